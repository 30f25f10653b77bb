package fapiao.procedures;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;
import org.eclipse.collections.impl.list.mutable.primitive.LongArrayList;
import org.eclipse.collections.impl.map.mutable.primitive.IntIntHashMap;
import org.eclipse.collections.impl.map.mutable.primitive.LongIntHashMap;
import org.eclipse.collections.impl.map.mutable.primitive.LongObjectHashMap;
import org.eclipse.collections.impl.set.mutable.primitive.LongHashSet;
import org.neo4j.graphdb.Direction;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.Relationship;
import org.neo4j.graphdb.RelationshipType;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;
import org.neo4j.internal.kernel.api.CursorFactory;
import org.neo4j.internal.kernel.api.NodeCursor;
import org.neo4j.internal.kernel.api.PropertyCursor;
import org.neo4j.internal.kernel.api.Read;
import org.neo4j.internal.kernel.api.RelationshipTraversalCursor;
import org.neo4j.internal.kernel.api.TokenRead;
import org.neo4j.io.pagecache.context.CursorContext;
import org.neo4j.kernel.api.KernelTransaction;
import org.neo4j.kernel.impl.coreapi.InternalTransaction;
import org.neo4j.procedure.Context;
import org.neo4j.procedure.Description;
import org.neo4j.procedure.Mode;
import org.neo4j.procedure.Name;
import org.neo4j.procedure.Procedure;
import org.neo4j.storageengine.api.PropertySelection;
import org.neo4j.storageengine.api.RelationshipSelection;
import org.neo4j.values.storable.NumberValue;
import org.neo4j.values.storable.Value;

/**
 * Read procedures of the Fapiao workbench (core API plus the kernel cursors behind it; no unrestricted access).
 *
 * <p>{@code fapiao.ego} is cypher/ego_trades.cypher done as a Java walk; {@code fapiao.edgeTable} is
 * cypher/edge_table_trades.cypher returned as packed little-endian columns. Install the jar in a Neo4j 5.x
 * {@code plugins/} folder; the client calls {@code fapiao.version()} and uses the procedures only when it
 * knows the version.
 */
@SuppressWarnings("deprecation") // Entity.getId(): the cheapest key for node sets within one transaction
public final class FapiaoProcedures {
    /** Bump when a procedure's signature or semantics change (graph/neo4j_store.py PROCEDURES_VERSION). */
    public static final String VERSION = "1";
    static final int MAX_HOPS = 3;
    static final Label TAXPAYER = Label.label("Taxpayer");
    static final Label IDENTIFIER = Label.label("Identifier");
    static final RelationshipType TRADES = RelationshipType.withName("TRADES");
    static final RelationshipType HAS = RelationshipType.withName("HAS");
    static final String[] NODE_KEYS = {"tax_id", "name", "registered_on", "industry", "region",
                                       "invoice_limit_fen", "status"};

    @Context
    public Transaction tx;

    @Context
    public GraphDatabaseService db;

    /** Output of fapiao.version(). */
    public static final class VersionRow {
        public String version;

        public VersionRow(String version) {
            this.version = version;
        }
    }

    /** Output of fapiao.ego(): kept tax ids (centre first), ring bounds, dropped count, node rows, edges. */
    public static final class EgoRow {
        public List<String> kept;
        public List<Long> bounds;
        public long dropped;
        public List<Object> nodes;
        /** int32 little-endian indexes into {@code kept}. */
        public byte[] sellers;
        public byte[] buyers;
        /** int64 little-endian pos_count, pos_total_fen, pos_first_ts, pos_last_ts. */
        public byte[] counts;
        public byte[] totals;
        public byte[] firsts;
        public byte[] lasts;
        /** "projection" (the in-memory TRADES copy) or "store" (walked in the database). */
        public String source;
    }

    /** Output of fapiao.edgeTable(): tax ids once, then packed columns (int32 indexes, int64 values). */
    public static final class EdgeTableRow {
        public List<String> taxIds;
        public byte[] sellers;
        public byte[] buyers;
        public byte[] counts;
        public byte[] totals;
        public byte[] firsts;
        public byte[] lasts;
    }

    @Procedure(name = "fapiao.version", mode = Mode.READ)
    @Description("The version of the Fapiao read procedures in this jar.")
    public Stream<VersionRow> version() {
        return Stream.of(new VersionRow(VERSION));
    }

    /** One reachable taxpayer: node id, its volume with the ring before, tax id read on demand (ties only). */
    private static final class Candidate {
        final long id;
        int row = -1; // in the TradesProjection, when walking it
        long volume;
        private String taxId;
        private boolean taxIdRead;
        private final Walk walk;

        Candidate(long id, Walk walk) {
            this.id = id;
            this.walk = walk;
        }

        String taxId() {
            if (!taxIdRead) {
                taxId = walk.taxId(id);
                taxIdRead = true;
            }
            return taxId;
        }
    }

    /** Cypher's ORDER BY v DESC, x.tax_id: volume descending, then tax id by code point, nulls last. */
    private static int rank(Candidate a, Candidate b) {
        int byVolume = Long.compare(b.volume, a.volume);
        if (byVolume != 0) {
            return byVolume;
        }
        String ta = a.taxId();
        String tb = b.taxId();
        if (ta == null || tb == null) {
            return ta == null ? (tb == null ? 0 : 1) : -1;
        }
        return compareCodePoints(ta, tb);
    }

    static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Boolean.compare(i < a.length(), j < b.length());
    }

    private static long asLong(Object value) {
        return value instanceof Number ? ((Number) value).longValue() : 0L;
    }

    private static long asLong(Value value) {
        return value instanceof NumberValue ? ((NumberValue) value).longValue() : 0L;
    }

    /** Kernel cursors over TRADES for one call (the core API costs a map and two entities per relationship). */
    static final class Walk implements AutoCloseable {
        final Read read;
        final NodeCursor node;
        final NodeCursor other;
        final RelationshipTraversalCursor rels;
        final PropertyCursor props;
        final int trades;
        final int taxIdKey;
        final PropertySelection rankKeys;
        final PropertySelection edgeKeys;
        final int[] edgeKeyIds;

        Walk(Transaction tx) {
            KernelTransaction ktx = ((InternalTransaction) tx).kernelTransaction();
            read = ktx.dataRead();
            TokenRead tokens = ktx.tokenRead();
            CursorFactory cursors = ktx.cursors();
            CursorContext context = ktx.cursorContext();
            node = cursors.allocateNodeCursor(context, ktx.memoryTracker());
            other = cursors.allocateNodeCursor(context, ktx.memoryTracker());
            rels = cursors.allocateRelationshipTraversalCursor(context, ktx.memoryTracker());
            props = cursors.allocatePropertyCursor(context, ktx.memoryTracker());
            trades = tokens.relationshipType("TRADES");
            taxIdKey = tokens.propertyKey("tax_id");
            edgeKeyIds = new int[] {tokens.propertyKey("pos_count"), tokens.propertyKey("pos_total_fen"),
                                    tokens.propertyKey("pos_first_ts"), tokens.propertyKey("pos_last_ts")};
            rankKeys = PropertySelection.selection(edgeKeyIds[0], edgeKeyIds[1]);
            edgeKeys = PropertySelection.selection(edgeKeyIds);
        }

        /** Position {@code rels} on the TRADES of node {@code id} in {@code direction}; false when none. */
        boolean trades(long id, Direction direction) {
            if (trades < 0) { // no TRADES relationship in the database yet
                return false;
            }
            read.singleNode(id, node);
            if (!node.next()) {
                return false;
            }
            node.relationships(rels, RelationshipSelection.selection(trades, direction));
            return true;
        }

        /** The pos_* values of the current relationship into {@code out} (count, total, first, last; 0 if absent). */
        void relValues(PropertySelection keys, long[] out) {
            Arrays.fill(out, 0L);
            rels.properties(props, keys);
            while (props.next()) {
                int k = props.propertyKey();
                for (int i = 0; i < edgeKeyIds.length; i++) {
                    if (edgeKeyIds[i] == k) {
                        out[i] = asLong(props.propertyValue());
                    }
                }
            }
        }

        long tradesCount() {
            return trades < 0 ? 0 : read.countsForRelationship(-1, trades, -1);
        }

        String taxId(long id) {
            read.singleNode(id, other);
            if (!other.next()) {
                return null;
            }
            other.properties(props, PropertySelection.selection(taxIdKey));
            while (props.next()) {
                Object v = props.propertyValue().asObject();
                return v instanceof String ? (String) v : null;
            }
            return null;
        }

        @Override
        public void close() {
            node.close();
            other.close();
            rels.close();
            props.close();
        }
    }

    /** Next ring: neighbours over TRADES with pos_count > 0 not in {@code seen}, ranked; adds them to seen. */
    private static Ring ring(Walk walk, List<Candidate> from, LongHashSet seen) {
        LongObjectHashMap<Candidate> found = new LongObjectHashMap<>();
        long[] values = new long[4];
        for (Candidate m : from) {
            if (!walk.trades(m.id, Direction.BOTH)) {
                continue;
            }
            while (walk.rels.next()) {
                long other = walk.rels.otherNodeReference();
                if (seen.contains(other)) {
                    continue;
                }
                walk.relValues(walk.rankKeys, values);
                if (values[0] <= 0) {
                    continue;
                }
                Candidate x = found.get(other);
                if (x == null) {
                    x = new Candidate(other, walk);
                    found.put(other, x);
                }
                x.volume += values[1];
            }
        }
        List<Candidate> ranked = new ArrayList<>(found.values());
        ranked.sort(FapiaoProcedures::rank);
        found.forEachKey(seen::add);
        return new Ring(ranked, null, ranked.size());
    }

    /** A ring: its first members in rank order (all of them, or the first {@code limit}), rows, size. */
    private static final class Ring {
        static final Ring EMPTY = new Ring(List.of(), new int[0], 0);
        final List<Candidate> top;
        final int[] rows;
        final long size;

        Ring(List<Candidate> top, int[] rows, long size) {
            this.top = top;
            this.rows = rows;
            this.size = size;
        }
    }

    @Procedure(name = "fapiao.ego", mode = Mode.READ)
    @Description("fapiao.ego(taxId, hops, limit[, {walk: true}]): the ego network of cypher/ego_trades.cypher (rings "
            + "1..hops <= 3 over TRADES pos_*, ranked by volume then tax id, first `limit` kept) with packed edge "
            + "columns; from an in-memory TRADES copy while no transaction committed since it was built.")
    public Stream<EgoRow> ego(@Name("taxId") String taxId, @Name("hops") long hops, @Name("limit") long limit,
                              @Name(value = "options", defaultValue = "{}") Map<String, Object> options) {
        if (limit < 1) {
            throw new IllegalArgumentException("fapiao.ego: limit must be at least 1 (got " + limit + ")");
        }
        Node centreNode = tx.findNode(TAXPAYER, "tax_id", taxId);
        if (centreNode == null) {
            return Stream.empty();
        }
        EgoRow row = new EgoRow();
        try (Walk walk = new Walk(tx)) {
            boolean walkOnly = options != null && Boolean.TRUE.equals(options.get("walk"));
            TradesProjection p = walkOnly ? null : TradesProjection.current(db, walk.tradesCount());
            row.source = p == null ? "store" : "projection";
            Candidate centre = new Candidate(centreNode.getId(), walk);
            Ring ring1;
            Ring ring2;
            Ring ring3;
            if (p == null) {
                LongHashSet seen = new LongHashSet();
                seen.add(centre.id);
                ring1 = hops >= 1 ? ring(walk, List.of(centre), seen) : Ring.EMPTY;
                ring2 = hops >= 2 ? ring(walk, ring1.top, seen) : Ring.EMPTY;
                ring3 = hops >= 3 ? ring(walk, ring2.top, seen) : Ring.EMPTY;
            } else {
                centre.row = p.index.getIfAbsent(centre.id, -1);
                BitSet seen = new BitSet(p.nodeIds.length);
                int[] from = centre.row >= 0 ? new int[] {centre.row} : new int[0];
                if (centre.row >= 0) {
                    seen.set(centre.row);
                }
                ring1 = hops >= 1 ? ring(p, walk, from, seen, limit) : Ring.EMPTY;
                ring2 = hops >= 2 ? ring(p, walk, ring1.rows, seen, limit) : Ring.EMPTY;
                ring3 = hops >= 3 ? ring(p, walk, ring2.rows, seen, limit) : Ring.EMPTY;
            }
            List<Candidate> top2 = ring2.top.subList(0, (int) Math.min(ring2.top.size(), limit));
            List<Candidate> kept = new ArrayList<>();
            kept.add(centre);
            kept.addAll(ring1.top.subList(0, (int) Math.min(ring1.top.size(), limit)));
            kept.addAll(top2);
            kept.addAll(ring3.top.subList(0, (int) Math.min(ring3.top.size(), limit)));
            if (kept.size() > limit) {
                kept = kept.subList(0, (int) limit);
            }
            row.bounds = List.of(1L + ring1.size, 1L + ring1.size + top2.size());
            row.dropped = 1L + ring1.size + ring2.size + ring3.size - kept.size();
            row.kept = new ArrayList<>(kept.size());
            for (Candidate k : kept) {
                row.kept.add(k.taxId());
            }
            Columns edges = p == null ? edgesWalked(walk, kept) : edgesProjected(p, kept);
            row.nodes = new ArrayList<>(kept.size());
            for (Candidate k : kept) {
                row.nodes.add(nodeRow(tx.getNodeById(k.id)));
            }
            row.sellers = bytes(edges.sellers);
            row.buyers = bytes(edges.buyers);
            row.counts = bytes(edges.counts);
            row.totals = bytes(edges.totals);
            row.firsts = bytes(edges.firsts);
            row.lasts = bytes(edges.lasts);
        }
        return Stream.of(row);
    }

    /** TRADES with pos_count > 0 among the kept nodes, read from the store. */
    private static Columns edgesWalked(Walk walk, List<Candidate> kept) {
        LongIntHashMap index = new LongIntHashMap(kept.size() * 2);
        for (Candidate k : kept) {
            index.put(k.id, index.size());
        }
        Columns edges = new Columns(Math.max(16, kept.size() * 4));
        long[] values = new long[4];
        for (int a = 0; a < kept.size(); a++) {
            long id = kept.get(a).id;
            if (!walk.trades(id, Direction.OUTGOING)) {
                continue;
            }
            while (walk.rels.next()) {
                long end = walk.rels.targetNodeReference();
                int b = index.getIfAbsent(end, -1);
                if (b < 0 || end == id) {
                    continue;
                }
                walk.relValues(walk.edgeKeys, values);
                if (values[0] > 0) {
                    edges.add(a, b, values[0], values[1], values[2], values[3]);
                }
            }
        }
        return edges;
    }

    /** The same edges from the in-memory copy. */
    private static Columns edgesProjected(TradesProjection p, List<Candidate> kept) {
        IntIntHashMap index = new IntIntHashMap(kept.size() * 2);
        for (int a = 0; a < kept.size(); a++) {
            if (kept.get(a).row >= 0) {
                index.put(kept.get(a).row, a);
            }
        }
        Columns edges = new Columns(Math.max(16, kept.size() * 4));
        for (int a = 0; a < kept.size(); a++) {
            int r = kept.get(a).row;
            if (r < 0) {
                continue;
            }
            for (int slot = p.outStart[r]; slot < p.outStart[r + 1]; slot++) {
                int b = index.getIfAbsent(p.target[slot], -1);
                if (b >= 0) {
                    edges.add(a, b, p.count[slot], p.total[slot], p.first[slot], p.last[slot]);
                }
            }
        }
        return edges;
    }

    /**
     * {@link #ring(Walk, List, LongHashSet)} over the in-memory copy ({@code seen} holds its rows): volumes in a dense
     * array, and only the first {@code limit} members (plus any tied with the last of them) ranked with tax ids.
     */
    private static Ring ring(TradesProjection p, Walk walk, int[] from, BitSet seen, long limit) {
        long[] volume = new long[p.nodeIds.length];
        BitSet member = new BitSet(p.nodeIds.length);
        IntArrayList found = new IntArrayList(64);
        for (int r : from) {
            for (int slot = p.outStart[r]; slot < p.outStart[r + 1]; slot++) {
                visit(p.target[slot], p.total[slot], seen, member, volume, found);
            }
            for (int k = p.inStart[r]; k < p.inStart[r + 1]; k++) {
                int slot = p.inSlot[k];
                visit(p.sellerOf[slot], p.total[slot], seen, member, volume, found);
            }
        }
        int[] rows = found.toArray();
        int n = rows.length;
        long threshold = Long.MIN_VALUE; // the limit-th biggest volume: members below it are never kept
        if (n > limit) {
            long[] sorted = new long[n];
            for (int i = 0; i < n; i++) {
                sorted[i] = volume[rows[i]];
            }
            Arrays.sort(sorted);
            threshold = sorted[n - (int) limit];
        }
        List<Candidate> top = new ArrayList<>();
        for (int x : rows) {
            if (volume[x] >= threshold) {
                Candidate c = new Candidate(p.nodeIds[x], walk);
                c.row = x;
                c.volume = volume[x];
                top.add(c);
            }
            seen.set(x);
        }
        top.sort(FapiaoProcedures::rank);
        return new Ring(top.size() > limit ? top.subList(0, (int) limit) : top, rows, n);
    }

    /** [tax_id, name (or ''), registered_on, industry, region, invoice_limit_fen, status, [[kind, value]...]]. */
    private static List<Object> nodeRow(Node node) {
        Map<String, Object> p = node.getProperties(NODE_KEYS);
        List<Object> ids = new ArrayList<>();
        for (Relationship r : node.getRelationships(Direction.OUTGOING, HAS)) {
            Node x = r.getEndNode();
            if (x.hasLabel(IDENTIFIER)) {
                ids.add(Arrays.asList(x.getProperty("kind", null), x.getProperty("value", null)));
            }
        }
        Object name = p.get("name");
        return Arrays.asList(p.get("tax_id"), name == null ? "" : name, p.get("registered_on"), p.get("industry"),
                             p.get("region"), p.get("invoice_limit_fen"), p.get("status"), ids);
    }

    @Procedure(name = "fapiao.edgeTable", mode = Mode.READ)
    @Description("fapiao.edgeTable(): every TRADES aggregate (count, total_fen, first_ts, last_ts) as packed "
            + "little-endian columns, sellers/buyers as int32 indexes into taxIds.")
    public Stream<EdgeTableRow> edgeTable() {
        List<String> taxIds = new ArrayList<>();
        Map<Long, Integer> index = new HashMap<>();
        Columns edges = new Columns(1 << 16);
        try (ResourceIterator<Node> sellers = tx.findNodes(TAXPAYER)) {
            while (sellers.hasNext()) {
                Node s = sellers.next();
                int si = -1;
                for (Relationship r : s.getRelationships(Direction.OUTGOING, TRADES)) {
                    if (si < 0) {
                        si = indexOf(s.getId(), s, index, taxIds);
                    }
                    long end = r.getEndNodeId();
                    Integer bi = index.get(end);
                    int b = bi != null ? bi : indexOf(end, r.getEndNode(), index, taxIds);
                    Map<String, Object> p = r.getProperties("count", "total_fen", "first_ts", "last_ts");
                    edges.add(si, b, asLong(p.get("count")), asLong(p.get("total_fen")), asLong(p.get("first_ts")),
                              asLong(p.get("last_ts")));
                }
            }
        }
        EdgeTableRow row = new EdgeTableRow();
        row.taxIds = taxIds;
        row.sellers = bytes(edges.sellers);
        row.buyers = bytes(edges.buyers);
        row.counts = bytes(edges.counts);
        row.totals = bytes(edges.totals);
        row.firsts = bytes(edges.firsts);
        row.lasts = bytes(edges.lasts);
        return Stream.of(row);
    }

    private static int indexOf(long id, Node node, Map<Long, Integer> index, List<String> taxIds) {
        Integer i = index.get(id);
        if (i != null) {
            return i;
        }
        Object t = node.getProperty("tax_id", null);
        taxIds.add(t instanceof String ? (String) t : null);
        index.put(id, taxIds.size() - 1);
        return taxIds.size() - 1;
    }

    /** Six growable edge columns. */
    private static final class Columns {
        final IntArrayList sellers;
        final IntArrayList buyers;
        final LongArrayList counts;
        final LongArrayList totals;
        final LongArrayList firsts;
        final LongArrayList lasts;

        Columns(int capacity) {
            sellers = new IntArrayList(capacity);
            buyers = new IntArrayList(capacity);
            counts = new LongArrayList(capacity);
            totals = new LongArrayList(capacity);
            firsts = new LongArrayList(capacity);
            lasts = new LongArrayList(capacity);
        }

        void add(int seller, int buyer, long count, long total, long first, long last) {
            sellers.add(seller);
            buyers.add(buyer);
            counts.add(count);
            totals.add(total);
            firsts.add(first);
            lasts.add(last);
        }
    }

    /** A neighbour {@code x} of the ring before, reached over a TRADES worth {@code amount}: add its volume. */
    private static void visit(int x, long amount, BitSet seen, BitSet member, long[] volume, IntArrayList found) {
        if (seen.get(x)) {
            return;
        }
        if (!member.get(x)) {
            member.set(x);
            found.add(x);
        }
        volume[x] += amount;
    }

    /** Little-endian int32 column (Bolt carries byte[]; the client reads it with numpy.frombuffer). */
    private static byte[] bytes(IntArrayList values) {
        ByteBuffer out = ByteBuffer.allocate(values.size() * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        values.forEach(out::putInt);
        return out.array();
    }

    /** Little-endian int64 column. */
    private static byte[] bytes(LongArrayList values) {
        ByteBuffer out = ByteBuffer.allocate(values.size() * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        values.forEach(out::putLong);
        return out.array();
    }
}
