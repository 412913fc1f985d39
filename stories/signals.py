"""Saving a chapter thins its older autosaves in the background, once the writer's burst of saves settles; a
chapter written together takes in changes made to it elsewhere."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from core.queues import enqueue_after_commit

from . import tasks
from .models import Chapter, ChapterRevision


@receiver(post_save, sender=Chapter)
def chapter_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        enqueue_after_commit(tasks.thin_revisions, instance.pk, delay=settings.MEMORY_SYNC_DELAY)
    # A chapter being written together changed some other way (an accepted proposal or suggestion, a restore): the
    # change goes into the shared document at once, so the writers see it and their typing stays. A writer's own
    # save is not asked about, to keep autosaves at one query less; the API and the page without JavaScript ask
    # for it themselves (tasks.bring_into_live_document), and anything else joins at the next settle.
    source = instance.revision_source
    if not raw and source not in (ChapterRevision.Source.TOGETHER, ChapterRevision.Source.WRITER):
        tasks.bring_into_live_document(instance.pk)
