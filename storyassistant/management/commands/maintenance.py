"""Periodic upkeep, as a process of its own (`make run` starts one; compose runs it as a service)."""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections
from redis.exceptions import RedisError

from agents.tasks import queue_unread_profiles
from generation.tasks import maintenance
from interop.tasks import clear_abandoned
from stories.models import Chapter, ChapterRevision

log = logging.getLogger(__name__)
THIN_BATCH = 500


def thin_all_revisions() -> int:
    """Age-thin the autosaves of every chapter, a batch of chapters at a time."""
    removed, last = 0, 0
    while batch := list(Chapter.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:THIN_BATCH]):
        removed += ChapterRevision.objects.thin(batch)
        last = batch[-1]
    return removed


class Command(BaseCommand):
    help = (
        "Every MAINTENANCE_EVERY seconds: resume or fail abandoned generations, give lost ones back to the queue, "
        "start waiting ones, settle stopped uploads, empty the trash of stories past their 30 days and forget "
        "manuscripts never imported, queue a memory sync for characters whose profile was never embedded; every "
        "hour, thin old autosaves."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every job once and exit.")

    def handle(self, *args, once=False, **options):
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        last_thinned = 0.0
        while not stopping:
            close_old_connections()
            try:
                maintenance()
                clear_abandoned()
                queue_unread_profiles()
                if once or time.monotonic() - last_thinned >= settings.REVISION_THINNING_EVERY:
                    removed = thin_all_revisions()
                    last_thinned = time.monotonic()
                    log.info("Thinned %d old autosaves", removed)
            except (DatabaseError, RedisError):
                # The database or Redis is restarting: the next round catches up.
                log.warning("Maintenance round skipped", exc_info=True)
            finally:
                close_old_connections()
            if once:
                return
            deadline = time.monotonic() + settings.MAINTENANCE_EVERY
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.5)
