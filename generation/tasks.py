"""RQ entry points. They take ids, keep their state in the database, and may run twice without harm."""

from django.db import transaction
from django.utils import timezone

from core import uploads
from stories.models import Story
from stories.tasks import send_notification_digests, settle_forgotten_drafts

from .dispatch import dispatch
from .models import GenerationTask
from .pipeline import execute


def claim(task_id: str) -> GenerationTask | None:
    """Take a queued, not cancelled task for this worker: its attempt number becomes this worker's claim, which
    every later write checks. A second copy of the job finds nothing to claim."""
    with transaction.atomic():
        task = (
            GenerationTask.objects.select_for_update()
            .filter(pk=task_id, status=GenerationTask.Status.QUEUED, cancel_requested=False)
            .first()
        )
        if task is None:
            return None
        now = timezone.now()
        task.status, task.started_at, task.heartbeat_at = GenerationTask.Status.RUNNING, now, now
        task.attempts += 1
        task.save(update_fields=["status", "started_at", "heartbeat_at", "attempts"])
    return GenerationTask.objects.select_related("story", "chapter", "user").get(pk=task_id)


def run_generation(task_id: str):
    try:
        task = claim(task_id)
        if task is not None:
            execute(task)
        return GenerationTask.objects.filter(pk=task_id).values_list("status", flat=True).first()
    finally:
        dispatch()  # this slot is free: the next writer in line starts


def maintenance():
    """Resume or fail abandoned tasks, re-dispatch lost ones, keep the line moving, delete stories that have been
    in the trash longer than the 30 days they can be restored for, settle uploads whose reading stopped with its
    worker and chapters written together whose web process stopped before saving them, and mail the daily
    notification digests that are due. `manage.py maintenance` runs it every MAINTENANCE_EVERY seconds."""
    dispatch()
    Story.objects.expired_trash().delete()
    uploads.give_up_stale()
    settle_forgotten_drafts()
    send_notification_digests()
