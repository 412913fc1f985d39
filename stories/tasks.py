"""Background jobs (RQ) that keep story memory in step with what the writer saved.

Each takes an id, reads the current row, and is safe to run twice or after the row is gone.
"""

import logging
from datetime import timedelta

from django.db import transaction
from redis.exceptions import RedisError
from rq.job import JobStatus

from characters.models import Character
from storyassistant.queues import get_queue

from .models import Chapter, ChapterRevision, Story, WorldEntry

log = logging.getLogger(__name__)
QUEUE = "background"
WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def sync_chapter_memory(chapter_id: int):
    from agents import memory

    chapter = Chapter.objects.select_related("story").filter(pk=chapter_id).first()
    return memory.sync_chapter(chapter) if chapter else "gone"


def thin_revisions(chapter_id: int):
    """Thin the chapter's older autosaves (ChapterRevision.objects.thin) after the writer saved it."""
    return ChapterRevision.objects.thin([chapter_id])


def sync_character_memory(character_id: int):
    from agents import memory

    character = Character.objects.filter(pk=character_id).first()
    return memory.sync_character(character) if character else "gone"


def sync_world_entry_memory(entry_id: int):
    from agents import memory

    entry = WorldEntry.objects.select_related("story").filter(pk=entry_id).first()
    return memory.sync_world_entry(entry) if entry else "gone"


def extract_continuity(chapter_id: int):
    """The chapter's continuity notes (summary, plot points, threads, states), for the chapters that follow."""
    from agents import continuity

    chapter = Chapter.objects.select_related("story").filter(pk=chapter_id).first()
    return continuity.extract(chapter) if chapter and chapter.content.strip() else "nothing to read"


def sync_story_memory(story_id: int):
    from agents import memory

    story = Story.objects.filter(pk=story_id).first()
    return memory.sync_story(story) if story else "gone"


def enqueue_after_commit(job, object_id: int, delay: int = 0):
    """Queue `job(object_id)` once the saving transaction commits, to run after `delay` seconds. A job already
    waiting (queued or scheduled) will read the newest data when it runs, so a burst of autosaves queues one job,
    and with a delay a writer typing for an hour causes one run per `delay` seconds, not one per save. If Redis is
    down the writer's save still stands; the memory catches up at the next save or a story re-sync."""

    def push():
        job_id = f"{job.__name__}-{object_id}"
        options = {"job_id": job_id, "result_ttl": 3600, "failure_ttl": 7 * 24 * 3600}
        try:
            queue = get_queue(QUEUE)
            pending = queue.fetch_job(job_id)
            if pending is not None and pending.get_status(refresh=False) in WAITING:
                return
            if delay:
                queue.enqueue_in(timedelta(seconds=delay), job, object_id, **options)
            else:
                queue.enqueue(job, object_id, **options)
        except RedisError:
            log.warning("Could not queue %s for %s: Redis unavailable", job.__name__, object_id, exc_info=True)

    transaction.on_commit(push)
