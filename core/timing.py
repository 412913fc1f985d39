"""Where each request's server time goes, when REQUEST_TIMING is on: per route (the URL pattern's name), the CPU
the request's thread used, the wall time, database time and queries, and Redis round trips.

Each answer carries a Server-Timing header (cpu, db, redis; browsers' developer tools and the load benchmark read
it), and each process keeps running figures per route that it writes to Redis at most every FLUSH_SECONDS; the
staff's /healthz details merge every process's (so two hosts' web processes show up together). Off, nothing is
measured and nothing patched.

Redis round trips are counted by wrapping redis-py's command and pipeline calls once, at start-up, only when the
setting is on: the client has no hook of its own.
"""

import contextlib
import contextvars
import json
import os
import socket
import threading
import time
from collections import defaultdict, deque

from django.conf import settings
from django.db import connections

FLUSH_SECONDS = 5
KEY_PREFIX = "storyassistant:timing:"
SAMPLES = 2000  # per route, for percentiles: the latest ones
_redis_calls: contextvars.ContextVar[list | None] = contextvars.ContextVar("redis_calls", default=None)


class Route:
    __slots__ = ("requests", "cpu", "wall", "db", "queries", "redis")

    def __init__(self):
        self.requests = 0
        self.cpu, self.wall, self.db = deque(maxlen=SAMPLES), deque(maxlen=SAMPLES), deque(maxlen=SAMPLES)
        self.queries, self.redis = deque(maxlen=SAMPLES), deque(maxlen=SAMPLES)

    def add(self, cpu, wall, db, queries, redis):
        self.requests += 1
        for series, value in ((self.cpu, cpu), (self.wall, wall), (self.db, db), (self.queries, queries),
                              (self.redis, redis)):  # fmt: skip
            series.append(value)

    def summary(self) -> dict:
        return {
            "requests": self.requests,
            "cpu_ms_p50": quantile(self.cpu, 0.5), "cpu_ms_p95": quantile(self.cpu, 0.95),
            "cpu_ms_mean": mean(self.cpu), "wall_ms_p50": quantile(self.wall, 0.5),
            "wall_ms_p95": quantile(self.wall, 0.95), "db_ms_mean": mean(self.db),
            "queries_mean": mean(self.queries), "redis_mean": mean(self.redis),
        }  # fmt: skip


def quantile(values, q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else 0.0


def mean(values) -> float:
    return round(sum(values) / len(values), 2) if values else 0.0


class Recorder:
    """This process's figures per route."""

    def __init__(self):
        self.routes: dict[str, Route] = defaultdict(Route)
        self.lock = threading.Lock()
        self.flushed = 0.0
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def add(self, route: str, *figures):
        with self.lock:
            self.routes[route].add(*figures)
            due = time.monotonic() - self.flushed > FLUSH_SECONDS
            if due:
                self.flushed = time.monotonic()
                snapshot = {name: r.summary() for name, r in self.routes.items()}
        if due:
            self.flush(snapshot)

    def flush(self, snapshot: dict):
        from . import queues

        # Figures are best effort: the request they describe must not fail for them.
        with contextlib.suppress(Exception):
            queues.connection().set(KEY_PREFIX + self.name, json.dumps(snapshot), ex=120)

    def reset(self):
        with self.lock:
            self.routes.clear()
            self.flushed = 0.0


RECORDER = Recorder()


def all_processes() -> dict:
    """Every process's latest figures ({process: {route: summary}}), for the staff's /healthz details."""
    from . import queues

    client = queues.connection()
    keys = sorted(client.scan_iter(KEY_PREFIX + "*", count=100))
    values = client.mget(keys) if keys else []
    return {k.decode().removeprefix(KEY_PREFIX): json.loads(v) for k, v in zip(keys, values, strict=True) if v}


def reset_all():
    """Forget the figures (the load benchmark starts each phase afresh)."""
    from . import queues

    client = queues.connection()
    for key in client.scan_iter(KEY_PREFIX + "*", count=100):
        client.delete(key)


_patched = False


def count_redis_calls():
    """Wrap redis-py's command and pipeline execution once so each round trip in a request is counted."""
    global _patched
    if _patched:
        return
    from redis.client import Pipeline, Redis

    def counted(method):
        def wrapper(*args, **kwargs):
            calls = _redis_calls.get()
            if calls is not None:
                calls[0] += 1
            return method(*args, **kwargs)

        return wrapper

    Redis.execute_command = counted(Redis.execute_command)
    Pipeline.execute = counted(Pipeline.execute)
    # Pipeline.execute_command only queues a command (its own method, not wrapped): not a round trip.
    _patched = True


class RequestTimingMiddleware:
    """Measures each request when settings.REQUEST_TIMING is on (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response
        if settings.REQUEST_TIMING:
            count_redis_calls()

    def __call__(self, request):
        if not settings.REQUEST_TIMING:
            return self.get_response(request)
        database = {"ms": 0.0, "queries": 0}

        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                database["ms"] += (time.perf_counter() - started) * 1000
                database["queries"] += 1

        calls = [0]
        token = _redis_calls.set(calls)
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            with connections["default"].execute_wrapper(timed):
                response = self.get_response(request)
        finally:
            _redis_calls.reset(token)
        cpu, wall = (time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000
        match = getattr(request, "resolver_match", None)
        route = (match.view_name if match else "") or "unmatched"
        response["Server-Timing"] = (
            f'cpu;dur={cpu:.2f}, db;dur={database["ms"]:.2f};desc="{database["queries"]} queries", '
            f'redis;desc="{calls[0]} round trips", app;dur={wall:.2f}'
        )
        RECORDER.add(route, cpu, wall, database["ms"], database["queries"], calls[0])
        return response
