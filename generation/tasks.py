"""RQ entry points. They take ids, keep their state in the database, and may run twice without harm."""

from datetime import timedelta

import django_rq
from django.db.models import F
from django.utils import timezone

from .models import GenerationTask

MAINTENANCE_EVERY = timedelta(seconds=30)


def run_generation(task_id: str):
    from .dispatch import dispatch
    from .pipeline import execute

    # Claim the task: only a queued, not cancelled task can start, so a second copy of this job does nothing.
    now = timezone.now()
    claimed = GenerationTask.objects.filter(
        pk=task_id, status=GenerationTask.Status.QUEUED, cancel_requested=False
    ).update(status=GenerationTask.Status.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1)
    try:
        if claimed:
            execute(GenerationTask.objects.select_related("story", "chapter", "user").get(pk=task_id))
        return GenerationTask.objects.filter(pk=task_id).values_list("status", flat=True).first()
    finally:
        dispatch()  # this slot is free: the next writer in line starts


def maintenance():
    """Every MAINTENANCE_EVERY: resume or fail abandoned tasks, re-dispatch lost ones, keep the line moving, and
    delete stories that have been in the trash longer than the 30 days they can be restored for."""
    from stories.models import Story

    from .dispatch import dispatch

    try:
        dispatch()
        Story.objects.expired_trash().delete()
    finally:
        schedule_maintenance()


def schedule_maintenance():
    queue = django_rq.get_queue("maintenance")
    queue.enqueue_in(MAINTENANCE_EVERY, maintenance, job_id="generation-maintenance", result_ttl=60)
