"""The embedded PostgreSQL and Redis, exercised in real processes against a throwaway data folder."""

import json
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]

# A process of the app: starts (or reuses) both services, optionally runs SQL, reports, and holds its
# handles until told to exit on stdin.
APP_PROCESS = """
import json, sys
from pathlib import Path
import psycopg
from storyassistant.embedded import postgres_database, redis_url

var = Path(sys.argv[1])
db = postgres_database(var)
url = redis_url(var)
rows = []
with psycopg.connect(host=db["HOST"], user=db["USER"], dbname=db["NAME"], autocommit=True) as conn:
    for statement in sys.argv[2:]:
        cursor = conn.execute(statement)
        if cursor.description:
            rows = [list(row) for row in cursor.fetchall()]
print(json.dumps({"redis_url": url, "rows": rows}), flush=True)
sys.stdin.readline()
"""


class AppProcess:
    def __init__(self, var_dir, *sql, timeout=120):
        # stderr goes to a file: a server the process started could hold a pipe open after the process died,
        # and reading it would then never end.
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (lives as long as the process)
        self.process = subprocess.Popen(
            [sys.executable, "-c", APP_PROCESS, str(var_dir), *sql],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            raise AssertionError(f"The app process did not report within {timeout} s:\n{self.stderr()}")
        self.report = json.loads(line)

    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read()

    def stop(self):
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        self.process.wait(timeout=60)
        assert self.process.returncode == 0, self.stderr()


def postgres_pid(var_dir) -> int | None:
    pidfile = var_dir / "postgres" / "postmaster.pid"
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


def redis_pid(var_dir) -> int | None:
    pidfile = var_dir / "redis" / "redis.pid"
    return int(pidfile.read_text().strip()) if pidfile.exists() else None


def wait_until_gone(pid, timeout=20):
    deadline = time.monotonic() + timeout
    while pid is not None and psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def var_dir(tmp_path):
    path = tmp_path / "var"
    yield path
    # Leave no server behind if a test failed half-way.
    for pid in (postgres_pid(path), redis_pid(path)):
        if pid and psutil.pid_exists(pid):
            psutil.Process(pid).terminate()


def test_a_second_start_reuses_the_running_services_and_the_last_exit_stops_them(var_dir):
    first = AppProcess(var_dir)
    pg, redis = postgres_pid(var_dir), redis_pid(var_dir)
    assert pg and psutil.pid_exists(pg) and redis and psutil.pid_exists(redis)

    second = AppProcess(var_dir)
    assert (postgres_pid(var_dir), redis_pid(var_dir)) == (pg, redis)
    assert second.report["redis_url"] == first.report["redis_url"]

    second.stop()
    assert psutil.pid_exists(pg) and psutil.pid_exists(redis), "services stopped while still in use"

    first.stop()
    assert wait_until_gone(pg), "PostgreSQL kept running after the last process exited"
    assert wait_until_gone(redis), "Redis kept running after the last process exited"


def test_data_survives_a_restart(var_dir):
    writer = AppProcess(
        var_dir,
        "CREATE TABLE notes (body text)",
        "INSERT INTO notes VALUES ('The lighthouse keeper kept a diary.')",
        "CREATE EXTENSION IF NOT EXISTS vector",
    )
    pg = postgres_pid(var_dir)
    writer.stop()
    assert wait_until_gone(pg)

    reader = AppProcess(
        var_dir,
        "SELECT body, (SELECT extversion FROM pg_extension WHERE extname = 'vector'), "
        "current_setting('max_connections'), current_setting('idle_in_transaction_session_timeout') FROM notes",
    )
    try:
        [[body, vector_version, max_connections, idle_timeout]] = reader.report["rows"]
        assert body == "The lighthouse keeper kept a diary."
        assert vector_version.startswith("0.8")
        # Set by the app, not left to the package's default: every process's pool is sized against it.
        assert (max_connections, idle_timeout) == ("100", "5min")
        assert postgres_pid(var_dir) != pg
    finally:
        reader.stop()


def test_redis_data_survives_a_restart(var_dir):
    import redis

    first = AppProcess(var_dir)
    client = redis.Redis.from_url(first.report["redis_url"])
    client.set("storyassistant:test", "kept")
    pid = redis_pid(var_dir)
    first.stop()
    assert wait_until_gone(pid)

    second = AppProcess(var_dir)
    try:
        assert redis.Redis.from_url(second.report["redis_url"]).get("storyassistant:test") == b"kept"
    finally:
        second.stop()
