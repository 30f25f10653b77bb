package fapiao;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

/**
 * Runs Neo4j Community with Bolt on 127.0.0.1: Neo4jLocal DATA_DIR PORT [PAGECACHE_MB] [PASSWORD].
 * The password may also come from the NEO4J_LOCAL_PASSWORD environment variable (kept out of `ps`).
 * SIGTERM / Ctrl-C shut the database down cleanly; after a crash the next start recovers it.
 * With -Dfapiao.exitWithStdin=true the server also shuts down cleanly when its standard input closes: the parent
 * holds the pipe, so a parent that dies (killed, a test run stopped by a timeout) takes the server with it.
 * Procedures: the jars in -Dfapiao.pluginDir (default target/plugins next to target/classes: fapiao.ego ...).
 */
public final class Neo4jLocal {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Neo4jLocal DATA_DIR PORT [PAGECACHE_MB] [PASSWORD]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        long pageCacheMb = args.length > 2 ? Long.parseLong(args[2]) : 192;
        String password = args.length > 3 ? args[3] : System.getenv("NEO4J_LOCAL_PASSWORD");
        if (password != null && password.isEmpty()) {
            password = null;
        }
        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home);
        Path plugins = pluginDir();
        if (Files.isDirectory(plugins)) {
            builder.setConfig(GraphDatabaseSettings.plugin_dir, plugins);
        }
        DatabaseManagementService dbms = builder
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMb))
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, password != null)
                .build();
        if (password != null) {
            dbms.database("system").executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED",
                    java.util.Map.of("pw", password));
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            dbms.shutdown();
            stopped.countDown();
        }));
        if (Boolean.getBoolean("fapiao.exitWithStdin")) {
            Thread watch = new Thread(() -> {
                try {
                    while (System.in.read() != -1) {
                        // the parent writes nothing; end of input means it is gone
                    }
                } catch (java.io.IOException e) {
                    // a broken pipe is the same news
                }
                System.exit(0);   // runs the shutdown hook: a clean shutdown
            }, "fapiao-parent-watch");
            watch.setDaemon(true);
            watch.start();
        }
        System.out.println("NEO4J-LOCAL READY bolt://127.0.0.1:" + port);
        System.out.flush();
        stopped.await();
    }

    /** -Dfapiao.pluginDir, else the module's target/plugins (this class lives in target/classes). */
    static Path pluginDir() throws java.net.URISyntaxException {
        String configured = System.getProperty("fapiao.pluginDir");
        if (configured != null && !configured.isEmpty()) {
            return Path.of(configured).toAbsolutePath();
        }
        Path classes = Path.of(Neo4jLocal.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        return classes.getParent().resolve("plugins");
    }
}
