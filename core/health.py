"""Liveness of what the app depends on, for /healthz and the launcher."""

import psycopg
from django.conf import settings
from django.db import connection
from rq import Worker

from . import queues


def check_database() -> str:
    """A fresh connection (not one from the pool) must be possible: pooled connections alone could look fine while
    the server refuses everyone else. Reports the server's connection use and this process's pool."""
    params = {**connection.get_connection_params(), "connect_timeout": 5}
    with psycopg.connect(**params) as fresh:
        version, used, limit = fresh.execute(
            "SELECT version(), (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
            "current_setting('max_connections')::int"
        ).fetchone()
    detail = f"{version.split(' on ')[0]}; {used} of {limit} connections in use"
    pool = connection.pool
    if pool is not None:
        stats = pool.get_stats()
        detail += (
            f"; this process's pool: {stats.get('pool_size', 0)} open (max {pool.max_size}), "
            f"{stats.get('pool_available', 0)} idle, {stats.get('requests_waiting', 0)} waiting"
        )
    return detail


def check_pgvector() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the vector extension is not installed (run migrations)")
    return f"pgvector {row[0]}"


def check_redis() -> str:
    info = queues.connection().info("server")
    return f"Redis {info['redis_version']}"


def check_worker() -> str:
    workers = Worker.all(connection=queues.connection())
    names = set(settings.RQ_QUEUE_NAMES)
    serving = [w for w in workers if names & set(w.queue_names())]
    if not serving:
        raise RuntimeError("no RQ worker is listening on " + ", ".join(settings.RQ_QUEUE_NAMES))
    return f"{len(serving)} worker(s)"


CHECKS = {"database": check_database, "pgvector": check_pgvector, "redis": check_redis, "worker": check_worker}


def run_checks() -> dict:
    """Each check's outcome; a failing check never hides the others."""
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = {"ok": True, "detail": check()}
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            results[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    return results
