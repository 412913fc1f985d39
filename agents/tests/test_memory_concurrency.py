"""Story memory when syncs overlap (two autosaves, two workers): each text stored once, the newest text wins."""

import pytest
from django.db import IntegrityError, transaction

from agents.memory import store as memory
from agents.models import MemoryItem, MemoryKind
from stories.models import Chapter
from tests.concurrency import at_once
from tests.factories import make_chapter, make_story, make_user

pytestmark = pytest.mark.django_db(transaction=True)

PARAGRAPHS = [
    "The ship docked at dawn, its sails grey with salt.",
    "Mara counted the crates as the sailors carried them ashore.",
    "Tomas argued with the harbour master about the mooring fee.",
    "A gull stole bread from a child and the child laughed.",
    "Far out, the lighthouse blinked twice, then once.",
    "By noon the quay was empty and the tide had turned.",
]


def test_overlapping_syncs_of_one_chapter_store_each_passage_once(redis_conn, settings):
    settings.MEMORY_PASSAGE_WORDS = 12  # one passage per paragraph
    chapter = make_chapter(make_story(make_user()), content="\n\n".join(PARAGRAPHS))
    at_once(3, lambda: memory.sync_chapter(Chapter.objects.get(pk=chapter.pk)))
    texts = list(chapter.memory_items.values_list("text", flat=True))
    assert sorted(texts) == sorted(PARAGRAPHS)  # before: 24 items for 6 passages
    found = memory.search(chapter.story.owner, "the lighthouse signal", story=chapter.story, k=3)
    assert len({item.pk for item in found}) == len({item.text for item in found}) == 3


def test_a_sync_that_started_with_old_text_stores_the_newest(redis_conn, settings):
    settings.MEMORY_PASSAGE_WORDS = 12
    chapter = make_chapter(make_story(make_user()), content="\n\n".join(PARAGRAPHS[:2]))
    stale = Chapter.objects.get(pk=chapter.pk)  # a job that loaded the chapter before the writer's next save
    Chapter.objects.filter(pk=chapter.pk).update(content="\n\n".join(PARAGRAPHS[2:4]))
    memory.sync_chapter(stale)
    assert sorted(chapter.memory_items.values_list("text", flat=True)) == sorted(PARAGRAPHS[2:4])


def test_the_same_fact_remembered_by_two_jobs_at_once_is_stored_once(redis_conn):
    chapter = make_chapter(make_story(make_user()), content="x")
    fact = "Tomas lost the mooring fee to the harbour master."
    at_once(3, lambda: memory.remember(chapter.story, MemoryKind.PLOT_POINT, fact, chapter=chapter))
    assert MemoryItem.objects.filter(story=chapter.story, text=fact).count() == 1


def test_the_database_refuses_a_second_copy_of_a_passage(redis_conn):
    chapter = make_chapter(make_story(make_user()), content=PARAGRAPHS[0])
    memory.sync_chapter(chapter)
    item = chapter.memory_items.get()
    item.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        item.save()
