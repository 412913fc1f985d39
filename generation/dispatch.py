"""Fair sharing of the model servers: each writer runs at most GENERATION_PER_USER generations at once and keeps
at most GENERATION_QUEUE_PER_USER waiting, and free slots go round-robin to the writer who was served longest ago,
so one writer queueing ten chapters cannot starve the others. Tasks wait in the database (status queued); only
dispatched ones enter the RQ queue.
"""

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker
from rq.job import JobStatus

from agents.services import llm
from agents.team.kinds import IMAGE_MODES
from agents.team.requests import TaskRequest
from core.queues import get_queue
from pictures import making

from .models import GenerationTask

log = logging.getLogger(__name__)
QUEUE = "realtime"
# pg_advisory_xact_lock keys: one dispatcher at a time across all processes; one queue check per writer at a time.
DISPATCH_LOCK = 727_001
WRITER_QUEUE_LOCK = 727_002
REDISPATCH_AFTER = timedelta(seconds=30)
# The RQ job is the task's: referenced by dotted path, so this module does not import the jobs that import it.
RUN_GENERATION = "generation.tasks.run_generation"
# A job in these states will still run; any other state (failed, stopped, finished without claiming the task,
# gone with a Redis restart) means the task's slot is free again.
ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


class QueueFull(Exception):
    """The writer already has GENERATION_QUEUE_PER_USER requests waiting or running (or, for pictures, made
    IMAGES_PER_USER_PER_DAY today)."""

    def __init__(self, retry_after: int, message: str = ""):
        super().__init__(
            message
            or f"You already have {settings.GENERATION_QUEUE_PER_USER} requests waiting or running. Wait for one "
            "to finish, or cancel one, before asking for more."
        )
        self.retry_after = retry_after


class ImagesOff(Exception):
    """No image service is configured; the message says how to set one up."""


def check_picture_allowance(user):
    if not making.available():
        raise ImagesOff(making.how_to_enable())
    limit = settings.IMAGES_PER_USER_PER_DAY
    since = timezone.now() - timedelta(days=1)
    made = GenerationTask.objects.filter(user=user, mode__in=IMAGE_MODES, created_at__gte=since).exclude(
        status__in=[GenerationTask.Status.FAILED, GenerationTask.Status.CANCELLED]
    )
    if limit and made.count() >= limit:
        raise QueueFull(
            retry_after=3600, message=f"You have asked for {limit} pictures today, this site's daily limit."
        )


def start_generation(user, story, mode: str, request: TaskRequest, chapter=None) -> GenerationTask:
    """Queue a request; the dispatcher starts it when a slot is free and it is this writer's turn. Raises
    QueueFull past the writer's limits, ImagesOff for a picture when no image service is set up."""
    with transaction.atomic():
        with connection.cursor() as cursor:  # two requests at once must not both pass the check
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [WRITER_QUEUE_LOCK, str(user.pk)])
        if GenerationTask.objects.filter(user=user).active().count() >= settings.GENERATION_QUEUE_PER_USER:
            raise QueueFull(retry_after=estimate_seconds(1) or 30)
        if mode in IMAGE_MODES:
            check_picture_allowance(user)
        request = TaskRequest.model_validate(request).model_dump(mode="json")
        task = GenerationTask.objects.create(user=user, story=story, chapter=chapter, mode=mode, request=request)
        transaction.on_commit(dispatch)
    return task


def slots() -> int:
    if settings.GENERATION_SLOTS:
        return settings.GENERATION_SLOTS
    try:
        queue = get_queue(QUEUE)
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


def finish_abandoned(task, message: str, **extra):
    """Write the outcome for a task whose worker stopped, unless that worker came back meanwhile."""
    return GenerationTask.objects.filter(
        pk=task.pk, status=GenerationTask.Status.RUNNING, attempts=task.attempts, heartbeat_at=task.heartbeat_at
    ).update(current_agent="", error=message, **extra)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


def worker_still_running(task) -> bool:
    """Whether the RQ worker that took the task's job is still at it, whatever the task's heartbeat says (a step
    that keeps the interpreter busy can delay the heartbeat thread): the job is started, its worker is registered
    (RQ keeps a worker's key for its job's time limit), and on this host its process exists. If Redis cannot be
    asked, the worker is taken to be alive: the task waits for the next round rather than run twice."""
    try:
        queue = get_queue(QUEUE)
        job = queue.fetch_job(job_id(task))
        if job is None or job.get_status(refresh=False) != JobStatus.STARTED or not job.worker_name:
            return False
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, queue.connection)
    except RedisError:
        log.warning("Redis unavailable while checking task %s's worker", task.pk, exc_info=True)
        return True
    if worker is None:
        return False
    return pid_alive(worker.pid) if worker.hostname == socket.gethostname() else True


def recover_abandoned(now):
    """Running tasks whose worker has not reported for GENERATION_ABANDONED_AFTER seconds and whose RQ worker is
    gone: the worker died. Resume from the last completed step, or give up. A task whose worker is still running
    it is left alone, however long the heartbeat has been silent: a computation never runs twice."""
    stale = GenerationTask.objects.filter(
        status=GenerationTask.Status.RUNNING,
        heartbeat_at__lt=now - timedelta(seconds=settings.GENERATION_ABANDONED_AFTER),
    )
    for task in stale:
        if worker_still_running(task):
            log.warning("Task %s has not reported for a while, but its worker is still running it", task.pk)
            continue
        where = task.current_agent or "pipeline"
        if task.cancel_requested:
            finish_abandoned(task, "", status=GenerationTask.Status.CANCELLED, finished_at=now)
        elif task.attempts >= settings.GENERATION_MAX_ATTEMPTS:
            message = (
                f"The worker stopped during the {where} step {task.attempts} times; giving up. Try again, or "
                "check the workers and the model server."
            )
            finish_abandoned(task, message, status=GenerationTask.Status.FAILED, finished_at=now)
        else:
            message = f"The worker stopped during the {where} step; resuming."
            finish_abandoned(task, message, status=GenerationTask.Status.QUEUED, dispatched_at=None)


def recover_lost_jobs(now):
    """Dispatched tasks whose RQ job will never run them (lost with Redis, failed before it could claim the
    task, stopped) give their slot back and wait to be dispatched again, a bounded number of times."""
    queue = get_queue(QUEUE)
    for task in GenerationTask.objects.filter(
        status=GenerationTask.Status.QUEUED, dispatched_at__lt=now - REDISPATCH_AFTER
    ):
        job = queue.fetch_job(job_id(task))
        if job is not None and job.get_status(refresh=False) in ALIVE:
            continue
        if task.dispatches >= settings.GENERATION_MAX_ATTEMPTS + 2:
            GenerationTask.objects.filter(pk=task.pk, status=GenerationTask.Status.QUEUED).update(
                status=GenerationTask.Status.FAILED,
                finished_at=now,
                error="No worker could start this request after several tries. Try again, or check the workers.",
            )
        else:
            GenerationTask.objects.filter(pk=task.pk, dispatched_at=task.dispatched_at).update(dispatched_at=None)


def recover():
    now = timezone.now()
    recover_abandoned(now)
    try:
        recover_lost_jobs(now)
    except RedisError:
        log.warning("Redis unavailable while checking dispatched tasks", exc_info=True)


def job_id(task) -> str:
    """One job id per hand-over, so a new job never shares an id with an old one's leftovers in RQ's registries."""
    return f"generation-{task.pk}-{task.dispatches}"


def dispatch() -> list:
    """Give free slots to waiting tasks, fairly. Safe to call from anywhere, any number of times."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DISPATCH_LOCK])
        recover()
        free = slots() - in_flight().count()
        if free <= 0:
            return []
        busy = dict(in_flight().values("user_id").annotate(n=Count("pk")).values_list("user_id", "n"))
        chosen = []
        held = llm.builtin_preparing() is not None  # text waits for the built-in model; pictures need not
        for task in fair_order(list(waiting()), last_served()):
            if len(chosen) >= free:
                break
            if held and task.mode not in IMAGE_MODES:
                continue
            if busy.get(task.user_id, 0) >= settings.GENERATION_PER_USER:
                continue
            busy[task.user_id] = busy.get(task.user_id, 0) + 1
            chosen.append(task)
        GenerationTask.objects.filter(pk__in=[t.pk for t in chosen]).update(
            dispatched_at=timezone.now(), dispatches=F("dispatches") + 1
        )
        for task in chosen:
            task.dispatches += 1

        def enqueue():
            try:
                queue = get_queue(QUEUE)
                for task in chosen:
                    queue.enqueue(RUN_GENERATION, str(task.pk), job_id=job_id(task), job_timeout=3600, result_ttl=600)
            except RedisError:
                # The tasks stay dispatched without a job; recover() frees their slots once REDISPATCH_AFTER passes.
                log.warning("Redis unavailable while queueing generations", exc_info=True)

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
    # Two timestamps per task, not the task: its reports and text can be large, and every queued writer's
    # status poll asks this.
    recent = (
        GenerationTask.objects.filter(
            status=GenerationTask.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False
        )
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:20]
    )
    durations = [(finished - started).total_seconds() for started, finished in recent] or [60.0]
    average = sum(durations) / len(durations)
    return int(average * position / slots())
