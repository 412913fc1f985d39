"""Fair sharing of the model servers: each writer runs at most GENERATION_PER_USER generations at once, and
free slots go round-robin to the writer who was served longest ago, so one writer queueing ten chapters
cannot starve the others. Tasks wait in the database (status queued); only dispatched ones enter the RQ queue.
"""

import logging
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker

from .models import GenerationTask

log = logging.getLogger(__name__)
QUEUE = "realtime"
DISPATCH_LOCK = 727_001  # pg_advisory_xact_lock key: one dispatcher at a time across all processes
REDISPATCH_AFTER = timedelta(seconds=30)


def slots() -> int:
    if settings.GENERATION_SLOTS:
        return settings.GENERATION_SLOTS
    try:
        queue = django_rq.get_queue(QUEUE)
        return max(1, sum(1 for w in Worker.all(queue=queue)))
    except RedisError:
        return 1


def in_flight():
    """Dispatched or running: holding a slot."""
    return GenerationTask.objects.filter(
        Q(status=GenerationTask.Status.RUNNING) | Q(status=GenerationTask.Status.QUEUED, dispatched_at__isnull=False)
    )


def waiting():
    return GenerationTask.objects.filter(status=GenerationTask.Status.QUEUED, dispatched_at__isnull=True)


def fair_order(tasks: list, last_served: dict) -> list:
    """Round-robin over writers: everyone's first waiting task (least recently served writer first), then
    everyone's second, and so on."""
    by_user: dict = {}
    for task in sorted(tasks, key=lambda t: t.created_at):
        by_user.setdefault(task.user_id, []).append(task)
    epoch = timezone.now() - timedelta(days=3650)
    users = sorted(by_user, key=lambda u: (last_served.get(u) or epoch, by_user[u][0].created_at))
    order, depth = [], max((len(v) for v in by_user.values()), default=0)
    for round_number in range(depth):
        order += [by_user[u][round_number] for u in users if round_number < len(by_user[u])]
    return order


def last_served() -> dict:
    return dict(
        GenerationTask.objects.filter(dispatched_at__isnull=False)
        .values("user_id")
        .annotate(last=Max("dispatched_at"))
        .values_list("user_id", "last")
    )


def recover():
    """Tasks whose worker died go back to the queue (resuming from their last completed step) or fail with the
    reason; tasks whose queue entry was lost (Redis restarted) are dispatched again."""
    now = timezone.now()
    stale = GenerationTask.objects.filter(
        status=GenerationTask.Status.RUNNING,
        heartbeat_at__lt=now - timedelta(seconds=settings.GENERATION_ABANDONED_AFTER),
    )
    for task in stale:
        if task.attempts >= settings.GENERATION_MAX_ATTEMPTS:
            GenerationTask.objects.filter(pk=task.pk).update(
                status=GenerationTask.Status.FAILED,
                current_agent="",
                finished_at=now,
                error=f"The worker stopped during the {task.current_agent or 'pipeline'} step "
                f"{task.attempts} times; giving up. Try again, or check the workers and the model server.",
            )
        else:
            GenerationTask.objects.filter(pk=task.pk).update(
                status=GenerationTask.Status.QUEUED,
                dispatched_at=None,
                error=f"The worker stopped during the {task.current_agent or 'pipeline'} step; resuming.",
            )
    try:
        queue = django_rq.get_queue(QUEUE)
        for task in GenerationTask.objects.filter(
            status=GenerationTask.Status.QUEUED, dispatched_at__lt=now - REDISPATCH_AFTER
        ):
            if queue.fetch_job(job_id(task)) is None:
                GenerationTask.objects.filter(pk=task.pk).update(dispatched_at=None)
    except RedisError:
        log.warning("Redis unavailable while checking dispatched tasks", exc_info=True)


def job_id(task) -> str:
    return f"generation-{task.pk}"


def dispatch() -> list:
    """Give free slots to waiting tasks, fairly. Safe to call from anywhere, any number of times."""
    from .tasks import run_generation

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DISPATCH_LOCK])
        recover()
        free = slots() - in_flight().count()
        if free <= 0:
            return []
        busy = dict(in_flight().values("user_id").annotate(n=Count("pk")).values_list("user_id", "n"))
        chosen = []
        for task in fair_order(list(waiting()), last_served()):
            if len(chosen) >= free:
                break
            if busy.get(task.user_id, 0) >= settings.GENERATION_PER_USER:
                continue
            busy[task.user_id] = busy.get(task.user_id, 0) + 1
            chosen.append(task)
        now = timezone.now()
        GenerationTask.objects.filter(pk__in=[t.pk for t in chosen]).update(dispatched_at=now)

        def enqueue():
            queue = django_rq.get_queue(QUEUE)
            for task in chosen:
                queue.enqueue(run_generation, str(task.pk), job_id=job_id(task), job_timeout=3600, result_ttl=600)

        transaction.on_commit(enqueue)
    return chosen


def place_in_line(task) -> int | None:
    """1 for the next task to start; None once it is dispatched or finished."""
    if task.status != GenerationTask.Status.QUEUED or task.dispatched_at:
        return None
    order = fair_order(list(waiting()), last_served())
    return next((i for i, t in enumerate(order, start=1) if t.pk == task.pk), None)


def estimate_seconds(position: int | None) -> int | None:
    """Roughly when a queued task will start, from how long recent generations took."""
    if position is None:
        return None
    recent = GenerationTask.objects.filter(
        status=GenerationTask.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False
    ).order_by("-finished_at")[:20]
    durations = [t.duration_seconds for t in recent] or [60.0]
    average = sum(durations) / len(durations)
    return int(average * position / slots())
