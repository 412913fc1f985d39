"""Liveness of what the app depends on, for /healthz and the launcher."""

import django_rq
from django.conf import settings
from django.db import connection
from rq import Worker


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        return cursor.fetchone()[0].split(" on ")[0]


def check_pgvector() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the vector extension is not installed (run migrations)")
    return f"pgvector {row[0]}"


def check_redis() -> str:
    info = django_rq.get_connection(settings.RQ_QUEUE_NAMES[0]).info("server")
    return f"Redis {info['redis_version']}"


def check_worker() -> str:
    workers = Worker.all(connection=django_rq.get_connection(settings.RQ_QUEUE_NAMES[0]))
    queues = set(settings.RQ_QUEUE_NAMES)
    serving = [w for w in workers if queues & set(w.queue_names())]
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
