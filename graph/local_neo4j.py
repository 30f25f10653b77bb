"""Run a real Neo4j Community 5.26 locally (no Docker): the Maven-built launcher in ``tools/neo4j-local``.

``running(data_dir)`` builds the launcher when needed, starts the JVM with Bolt on a free port of
127.0.0.1, waits until the Python driver connects and stops the server (SIGTERM, clean shutdown) on
exit. Restarting on the same ``data_dir`` recovers the database from its transaction logs. The server loads the
``fapiao.*`` read procedures from ``target/plugins/`` (:data:`PLUGIN_DIR`, the jar the same Maven build makes).

Examples
--------
>>> from graph import local_neo4j                                        # doctest: +SKIP
>>> with local_neo4j.running(Path("/tmp/neo")) as server:                # doctest: +SKIP
...     print(server.uri)
bolt://127.0.0.1:40123
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from graph.core import settings
from graph.core.errors import StoreError

__all__ = ["LAUNCHER_DIR", "PLUGIN_DIR", "LocalNeo4j", "plugin_jar", "admin_command", "admin_env", "build_if_needed", "jvm_command",
           "missing_prerequisites", "running"]



def _launcher_dir() -> Path:
    """The launcher's Maven project: ``tools/neo4j-local`` in a checkout; in an installed wheel, the sources
    it ships under ``<prefix>/share/fapiao/neo4j-local``, copied once to ``~/.cache/fapiao`` when that
    prefix is read-only (Maven builds into the project's ``target/``)."""
    checkout = Path(__file__).resolve().parents[1] / "tools" / "neo4j-local"
    if (checkout / "pom.xml").is_file():
        return checkout
    shipped = Path(sys.prefix) / "share" / "fapiao" / "neo4j-local"
    if not (shipped / "pom.xml").is_file() or os.access(shipped, os.W_OK):
        return shipped
    cache = Path.home() / ".cache" / "fapiao" / "neo4j-local"
    if not (cache / "pom.xml").is_file():
        shutil.copytree(shipped, cache, dirs_exist_ok=True)
    return cache


LAUNCHER_DIR = _launcher_dir()
PLUGIN_DIR = LAUNCHER_DIR / "target" / "plugins"   # the procedures jar the same Maven build makes
LOG_NAME = "neo4j-local.log"
MAIN_CLASS = "fapiao.Neo4jLocal"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0

#: Java 17 module opens Neo4j 5.26 and Netty need (see /work/shared/notes/neo4j-local.md).
ADD_OPENS = (
    "java.base/java.lang", "java.base/java.lang.reflect", "java.base/java.nio", "java.base/sun.nio.ch",
    "java.base/java.io", "java.base/java.util", "java.base/java.util.concurrent",
    "java.base/jdk.internal.misc", "java.base/jdk.internal.ref",
)


def missing_prerequisites() -> str | None:
    """Why a local Neo4j cannot run here (``java`` or ``mvn`` missing), or None when it can.

    Maven is only needed when the launcher is not built yet.
    """
    if shutil.which("java") is None:
        return "`java` (17 or 21) is not on PATH; install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`"
    if not _built() and shutil.which("mvn") is None:
        return "`mvn` is not on PATH and tools/neo4j-local is not built; install Maven (`apt-get install maven`)"
    return None


def _sources() -> list[Path]:
    return [LAUNCHER_DIR / "pom.xml", *sorted((LAUNCHER_DIR / "src").rglob("*.java"))]


def plugin_jar() -> Path | None:
    """The read-procedure jar the build made (``target/plugins/fapiao-procedures-N.jar``), or None."""
    jars = sorted(PLUGIN_DIR.glob("fapiao-procedures-*.jar"))
    return jars[-1] if jars else None


def _built() -> bool:
    marker = LAUNCHER_DIR / "target" / "classes" / "fapiao" / "Neo4jLocal.class"
    deps = LAUNCHER_DIR / "target" / "dependency"
    if not marker.is_file() or not deps.is_dir() or not any(deps.glob("neo4j-*.jar")) or plugin_jar() is None:
        return False
    built_at = marker.stat().st_mtime
    return all(p.stat().st_mtime <= built_at for p in _sources())


def build_if_needed(*, quiet: bool = False) -> bool:
    """Build the launcher with Maven when ``target/`` is missing or older than its sources.

    Parameters
    ----------
    quiet : bool
        Do not print the one-line progress message to stderr.

    Returns
    -------
    bool
        True when a build ran, False when the launcher was up to date.

    Raises
    ------
    StoreError
        Maven is missing or the build failed (the message ends with Maven's last output lines).
    """
    from filelock import FileLock  # portable (fcntl is Unix-only); imported here to keep start-up light

    with FileLock(Path(tempfile.gettempdir()) / "fapiao-neo4j-local-build.lock"):  # concurrent sessions build once
        if _built():
            return False
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StoreError("cannot build tools/neo4j-local: `mvn` is not on PATH (apt-get install maven)")
        if not quiet:
            print("building the local Neo4j launcher (Maven; first time downloads ~150 MB)...",
                  file=sys.stderr, flush=True)
        shutil.rmtree(PLUGIN_DIR, ignore_errors=True)  # no stale procedure jar beside the new
        proc = subprocess.run(
            [mvn, "-q", "-B", "package", "dependency:copy-dependencies", "-DskipTests"],
            cwd=LAUNCHER_DIR, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise StoreError(f"building tools/neo4j-local failed (mvn exit {proc.returncode}):\n{tail}")
        (LAUNCHER_DIR / "target" / "classes" / "fapiao" / "Neo4jLocal.class").touch()
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jvm_command(data_dir: Path, port: int) -> list[str]:
    """The ``java`` command line that runs the launcher on ``data_dir`` and ``port``."""
    java = shutil.which("java") or "java"
    heap = settings.get("FAPIAO_NEO4J_HEAP")
    pagecache = settings.get_int("FAPIAO_NEO4J_PAGECACHE_MB")
    classpath = f"{LAUNCHER_DIR / 'target' / 'classes'}:{LAUNCHER_DIR / 'target' / 'dependency'}/*"
    opens = [f"--add-opens={m}=ALL-UNNAMED" for m in ADD_OPENS]
    return [
        java, f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
        *opens, "-Dio.netty.tryReflectionSetAccessible=true", "-Dfile.encoding=UTF-8",
        f"-Dfapiao.pluginDir={PLUGIN_DIR}", "-Dfapiao.exitWithStdin=true",
        "-cp", classpath, MAIN_CLASS, str(data_dir), str(port), str(pagecache),
    ]


ADMIN_CLASS = "org.neo4j.cli.AdminTool"


def admin_command(args: list[str]) -> list[str]:
    """``neo4j-admin ARGS`` as a ``java`` command line over the launcher's classpath (the import tool is on it)."""
    java = shutil.which("java") or "java"
    heap = settings.get("FAPIAO_NEO4J_HEAP")
    classpath = f"{LAUNCHER_DIR / 'target' / 'classes'}:{LAUNCHER_DIR / 'target' / 'dependency'}/*"
    opens = [f"--add-opens={m}=ALL-UNNAMED" for m in ADD_OPENS]
    return [java, f"-Xmx{heap}", "-XX:+UseG1GC", *opens, "-Dfile.encoding=UTF-8", "-cp", classpath, ADMIN_CLASS,
            *args]


def admin_env(data_dir: Path) -> dict[str, str]:
    """Environment for :func:`admin_command` acting on the launcher's ``data_dir`` (its NEO4J_HOME)."""
    env = _env_with_password(None)
    env["NEO4J_HOME"] = str(data_dir)
    env["NEO4J_CONF"] = str(data_dir / "conf")
    return env


@dataclass
class LocalNeo4j:
    """A running local Neo4j: ``uri`` for the driver, ``pid`` of the JVM, ``log_path`` of its output."""

    data_dir: Path
    port: int
    password: str | None
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path
    started_in_s: float = 0.0

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines the server wrote (launcher output, then Neo4j's own debug log)."""
        parts = []
        for path in (self.log_path, self.data_dir / "logs" / "debug.log"):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            parts.append(f"[{path.name}]\n" + "\n".join(text.strip().splitlines()[-lines:]))
        return "\n".join(parts) or "(no log written)"

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (the launcher's shutdown hook closes the database cleanly) and wait; SIGKILL on timeout."""
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_pipe()

    def kill(self) -> None:
        """SIGKILL the JVM (crash simulation: no clean shutdown) and reap it."""
        if self.alive():
            self.process.kill()
        self.process.wait()
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()


def _env_with_password(password: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NEO4J_LOCAL_PASSWORD", None)
    if password:
        env["NEO4J_LOCAL_PASSWORD"] = password  # not on the command line, where `ps` would show it
    return env


def start(data_dir: Path, *, port: int | None = None, password: str | None = None,
          timeout: float = START_TIMEOUT_S) -> LocalNeo4j:
    """Start the server and wait until the driver connects; prefer :func:`running`, which also stops it.

    Raises
    ------
    StoreError
        Prerequisites missing, the build failed, the JVM exited, or it did not accept Bolt within
        ``timeout`` seconds; the message ends with the server log tail.
    """
    from graph.neo4j_store import connectable

    problem = missing_prerequisites()
    if problem:
        raise StoreError(f"cannot run a local Neo4j: {problem}")
    build_if_needed()
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = data_dir / LOG_NAME
    t0 = time.monotonic()
    with open(log_path, "ab") as log:
        log.write(f"--- starting on port {port} at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        log.flush()
        process = subprocess.Popen(
            # stdin is a pipe this process holds and never writes: when it dies, however, the server shuts down
            jvm_command(data_dir, port), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE,
            env=_env_with_password(password), start_new_session=True,
        )
    server = LocalNeo4j(data_dir, port, password, process, log_path)
    auth = ("neo4j", password) if password else None
    try:
        while True:
            if not server.alive():
                raise StoreError(f"local Neo4j exited with code {process.returncode} during start-up; log "
                                 f"{log_path}:\n{server.log_tail()}")
            if connectable(server.uri, auth=auth):
                break
            if time.monotonic() - t0 > timeout:
                raise StoreError(f"local Neo4j did not accept Bolt connections on {server.uri} within "
                                 f"{timeout:.0f} s; log {log_path}:\n{server.log_tail()}")
            time.sleep(0.5)
    except BaseException:  # timeout, Ctrl-C while waiting ...: never leave a JVM behind
        server.kill()
        raise
    server.started_in_s = time.monotonic() - t0
    return server


@contextmanager
def running(data_dir: Path, *, port: int | None = None, password: str | None = None) -> Iterator[LocalNeo4j]:
    """Run a local Neo4j on ``data_dir`` for the duration of the ``with`` block.

    Parameters
    ----------
    data_dir : Path
        Neo4j home (databases, transaction logs, ``neo4j-local.log``); created if missing, reused and
        recovered if it holds a previous (even killed) server's data.
    port : int, optional
        Bolt port on 127.0.0.1; a free one by default.
    password : str, optional
        Enable auth with user ``neo4j`` and this password; auth is off by default.

    Yields
    ------
    LocalNeo4j
        With ``.uri``, ``.pid``, ``.log_path``, ``.stop()`` and ``.kill()``.
    """
    server = start(data_dir, port=port, password=password)
    try:
        yield server
    finally:
        server.stop()
