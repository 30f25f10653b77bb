package fapiao.procedures;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.collections.impl.map.mutable.primitive.LongIntHashMap;
import org.neo4j.graphdb.Direction;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;
import org.neo4j.kernel.internal.GraphDatabaseAPI;
import org.neo4j.storageengine.api.TransactionIdStore;

/**
 * An in-memory copy of the TRADES aggregates with pos_count > 0 (self-loops left out: no ego walk uses them), as
 * compressed rows by seller (and an index by buyer), valid for exactly one committed transaction id.
 *
 * <p>{@link #current} returns the copy when no transaction committed since it was built; otherwise it starts one
 * background rebuild and returns null, and the caller walks the store itself. A database with more than
 * {@link #MAX_RELATIONSHIPS} TRADES is never copied (heap).
 */
@SuppressWarnings("deprecation") // Entity.getId()
final class TradesProjection {
    static final long MAX_RELATIONSHIPS = 3_000_000L;
    private static final Map<String, TradesProjection> BY_DATABASE = new ConcurrentHashMap<>();
    private static final Map<String, AtomicBoolean> BUILDING = new ConcurrentHashMap<>();

    final long txId;
    final LongIntHashMap index;     // node id -> row
    final long[] nodeIds;           // row -> node id
    final int[] outStart;           // seller row -> first slot (outStart[row + 1] is the end)
    final int[] target;             // slot -> buyer row
    final long[] count;
    final long[] total;
    final long[] first;
    final long[] last;
    final int[] inStart;            // buyer row -> first entry of inSlot
    final int[] inSlot;             // -> slot of the relationship (its seller: sellerOf)
    final int[] sellerOf;           // slot -> seller row

    private TradesProjection(long txId, LongIntHashMap index, long[] nodeIds, int[] outStart, int[] target,
                             long[] count, long[] total, long[] first, long[] last, int[] inStart, int[] inSlot,
                             int[] sellerOf) {
        this.txId = txId;
        this.index = index;
        this.nodeIds = nodeIds;
        this.outStart = outStart;
        this.target = target;
        this.count = count;
        this.total = total;
        this.first = first;
        this.last = last;
        this.inStart = inStart;
        this.inSlot = inSlot;
        this.sellerOf = sellerOf;
    }

    static long lastCommitted(GraphDatabaseService db) {
        return ((GraphDatabaseAPI) db).getDependencyResolver().resolveDependency(TransactionIdStore.class)
                .getLastCommittedTransactionId();
    }

    /** The copy valid now, or null (then a rebuild is started unless one runs or the database is too big). */
    static TradesProjection current(GraphDatabaseService db, long tradesCount) {
        long now;
        try {
            now = lastCommitted(db);
        } catch (RuntimeException e) { // a server whose procedure context is not the usual facade: walk the store
            return null;
        }
        TradesProjection p = BY_DATABASE.get(db.databaseName());
        if (p != null && p.txId == now) {
            return p;
        }
        if (tradesCount > MAX_RELATIONSHIPS) {
            return null;
        }
        AtomicBoolean building = BUILDING.computeIfAbsent(db.databaseName(), k -> new AtomicBoolean());
        if (building.compareAndSet(false, true)) {
            Thread t = new Thread(() -> {
                try {
                    long txId = lastCommitted(db); // taken before reading: a later commit makes the copy stale
                    BY_DATABASE.put(db.databaseName(), build(db, txId));
                } catch (RuntimeException | OutOfMemoryError e) {
                    BY_DATABASE.remove(db.databaseName());
                } finally {
                    building.set(false);
                }
            }, "fapiao-trades-projection");
            t.setDaemon(true);
            t.start();
        }
        return null;
    }

    private static TradesProjection build(GraphDatabaseService db, long txId) {
        LongIntHashMap index = new LongIntHashMap();
        long[] nodeIds = new long[1024];
        int[] src = new int[1 << 16];
        int[] dst = new int[1 << 16];
        long[][] values = new long[4][1 << 16];
        int n = 0;
        try (Transaction tx = db.beginTx(); FapiaoProcedures.Walk walk = new FapiaoProcedures.Walk(tx);
             ResourceIterator<Node> sellers = tx.findNodes(Label.label("Taxpayer"))) {
            long[] v = new long[4];
            while (sellers.hasNext()) {
                long s = sellers.next().getId();
                if (!walk.trades(s, Direction.OUTGOING)) {
                    continue;
                }
                while (walk.rels.next()) {
                    long b = walk.rels.targetNodeReference();
                    if (b == s) {
                        continue;
                    }
                    walk.relValues(walk.edgeKeys, v);
                    if (v[0] <= 0) {
                        continue;
                    }
                    if (n == src.length) {
                        src = Arrays.copyOf(src, n * 2);
                        dst = Arrays.copyOf(dst, n * 2);
                        for (int i = 0; i < 4; i++) {
                            values[i] = Arrays.copyOf(values[i], n * 2);
                        }
                    }
                    for (long id : new long[] {s, b}) {
                        if (!index.containsKey(id)) {
                            if (index.size() == nodeIds.length) {
                                nodeIds = Arrays.copyOf(nodeIds, nodeIds.length * 2);
                            }
                            nodeIds[index.size()] = id;
                            index.put(id, index.size());
                        }
                    }
                    src[n] = index.get(s);
                    dst[n] = index.get(b);
                    for (int i = 0; i < 4; i++) {
                        values[i][n] = v[i];
                    }
                    n++;
                }
            }
        } // read only: closing rolls back; the cursors close before the transaction (it is pooled and reused)
        int rows = index.size();
        int[] outStart = starts(src, n, rows);
        int[] fill = Arrays.copyOf(outStart, rows);
        int[] target = new int[n];
        int[] sellerOf = new int[n];
        long[][] sorted = new long[4][n];
        for (int e = 0; e < n; e++) {
            int slot = fill[src[e]]++;
            target[slot] = dst[e];
            sellerOf[slot] = src[e];
            for (int i = 0; i < 4; i++) {
                sorted[i][slot] = values[i][e];
            }
        }
        int[] inStart = starts(target, n, rows);
        int[] inFill = Arrays.copyOf(inStart, rows);
        int[] inSlot = new int[n];
        for (int slot = 0; slot < n; slot++) {
            inSlot[inFill[target[slot]]++] = slot;
        }
        return new TradesProjection(txId, index, Arrays.copyOf(nodeIds, rows), outStart, target, sorted[0],
                                    sorted[1], sorted[2], sorted[3], inStart, inSlot, sellerOf);
    }

    /** Counting-sort offsets: starts[r] .. starts[r + 1] are the entries with key r. */
    private static int[] starts(int[] keys, int n, int rows) {
        int[] starts = new int[rows + 1];
        for (int e = 0; e < n; e++) {
            starts[keys[e] + 1]++;
        }
        for (int r = 0; r < rows; r++) {
            starts[r + 1] += starts[r];
        }
        return starts;
    }
}
