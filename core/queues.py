"""The app's one way to Redis for queues: a client per process, shared by every request and job.

django_rq.get_queue() makes a new client (and so a new connection) on every call; under ASGI each request runs on
a thread of its own, so a busy site would open and close a Redis connection for every save. One client per process
keeps a small pool of connections instead.
"""

import logging
import threading
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus

log = logging.getLogger(__name__)
# A job in these states has not started, so it will read the newest data when it runs.
WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
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


def enqueue_after_commit(job, object_id: int, delay: int = 0, queue: str = "background"):
    """Queue `job(object_id)` once the saving transaction commits, to run after `delay` seconds. A job already
    waiting (queued or scheduled) will read the newest data when it runs, so a burst of autosaves queues one job,
    and with a delay a writer typing for an hour causes one run per `delay` seconds, not one per save. If Redis is
    down the save still stands; the work catches up at the next save (or a story re-sync)."""
    enqueue_all_after_commit([(job, object_id, delay)], queue)


def enqueue_all_after_commit(jobs: list[tuple], queue: str = "background"):
    """enqueue_after_commit for several (job, object_id, delay) at once: whether each is already waiting is asked
    in one round trip (an autosave's jobs are usually all waiting, so that is all it costs)."""

    def push():
        ids = [f"{job.__name__}-{object_id}" for job, object_id, _ in jobs]
        try:
            target = get_queue(queue)
            with target.connection.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hget(Job.key_for(job_id), "status")
                statuses = pipe.execute()
            for (job, object_id, delay), job_id, status in zip(jobs, ids, statuses, strict=True):
                if status is not None and status.decode() in WAITING:
                    continue
                options = {"job_id": job_id, "result_ttl": 3600, "failure_ttl": 7 * 24 * 3600}
                if delay:
                    target.enqueue_in(timedelta(seconds=delay), job, object_id, **options)
                else:
                    target.enqueue(job, object_id, **options)
        except RedisError:
            log.warning("Could not queue %s: Redis unavailable", ", ".join(ids), exc_info=True)

    transaction.on_commit(push)
