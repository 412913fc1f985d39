"""Saving a chapter thins its older autosaves in the background, once the writer's burst of saves settles."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from core.queues import enqueue_after_commit

from . import tasks
from .models import Chapter


@receiver(post_save, sender=Chapter)
def chapter_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        enqueue_after_commit(tasks.thin_revisions, instance.pk, delay=settings.MEMORY_SYNC_DELAY)
