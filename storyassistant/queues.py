"""The app's one way to Redis for queues: a client per process, shared by every request and job.

django_rq.get_queue() makes a new client (and so a new connection) on every call; under ASGI each request runs on
a thread of its own, so a busy site would open and close a Redis connection for every save. One client per process
keeps a small pool of connections instead.
"""

import threading

import django_rq
from django.conf import settings
from redis import Redis
from rq import Queue

_clients: dict[str, Redis] = {}
_lock = threading.Lock()


def connection(queue_name: str | None = None) -> Redis:
    """The process's Redis client for a queue's server (settings.RQ_QUEUES)."""
    url = settings.RQ_QUEUES[queue_name or settings.RQ_QUEUE_NAMES[0]]["URL"]
    with _lock:
        if url not in _clients:
            _clients[url] = Redis.from_url(url)
        return _clients[url]


def get_queue(name: str) -> Queue:
    return django_rq.get_queue(name, connection=connection(name))
