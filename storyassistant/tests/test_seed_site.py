"""The seeded site the benchmarks run on: realistic rows, the pathological objects, the same every time."""

import io

import pytest
from django.core.management import call_command

from agents.models import MemoryItem
from core.models import User
from generation.models import GenerationTask
from stories.models import Chapter, ChapterRevision, Story, WorldEntry
from stories.text import CHAPTER_MAX_CHARS

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_site", writers=4, stories=8, novels=1, stdout=out, **options)
    return out.getvalue()


def fingerprint():
    seeded = Chapter.objects.filter(story__owner__email__endswith="@seed.invalid")
    return sorted(seeded.values_list("title", "word_count"))


def test_a_seeded_site_has_every_kind_of_row_and_the_pathological_objects():
    said = seed()
    assert "4 writers, 8 stories" in said
    writers = User.objects.filter(email__endswith="@seed.invalid")
    assert writers.count() == 4 and not any(w.has_usable_password() for w in writers)  # nobody signs in as them
    stories = Story.objects.filter(owner__in=writers)
    assert stories.count() == 8
    assert Chapter.objects.filter(story__in=stories).values("story").distinct().count() == 8
    assert ChapterRevision.objects.filter(chapter__story__in=stories).count() >= 3 * 8
    assert MemoryItem.objects.filter(story__in=stories).exclude(embedding=None).count() > 2000
    assert max(len(c) for c in Chapter.objects.filter(story__in=stories).values_list("content", flat=True)) == (
        CHAPTER_MAX_CHARS - 1
    )  # the longest chapter a writer may have
    assert WorldEntry.objects.filter(story__in=stories).count() >= 2000  # the 2,000-entry lorebook
    check = GenerationTask.objects.filter(story__in=stories, mode="check").order_by("-finished_at").first()
    assert len(check.quality_report["findings"]) == 3000  # as a report was stored before reports were bounded
    # The search indexes dropped for the bulk insert are back.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'agents_memoryitem'")
        definitions = " ".join(row[0] for row in cursor.fetchall())
    assert "USING hnsw" in definitions and "USING gin" in definitions


def test_seeding_is_the_same_every_time_and_never_twice():
    seed()
    first = fingerprint()
    assert "Already seeded" in seed()
    seed(replace=True)
    assert fingerprint() == first
