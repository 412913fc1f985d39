"""Background jobs (RQ) that keep story memory and continuity notes in step with what the writer saved.

Each takes an id, reads the current row, and is safe to run twice or after the row is gone.
"""

from django.conf import settings

from agents.discovery import patterns, report
from agents.memory import continuity, facts
from agents.memory import store as memory
from characters.models import Character
from core.queues import enqueue_all_after_commit
from stories.models import Chapter, Story, WorldEntry


def sync_chapter_memory(chapter_id: int):
    """The chapter's passages in memory; then the profiles of the cast it names, whose lines and mentions may have
    changed (each profile is embedded again only if its text did)."""
    chapter = Chapter.objects.select_related("story").filter(pk=chapter_id).first()
    if chapter is None:
        return "gone"
    result = memory.sync_chapter(chapter)
    named = [
        c.pk for c in chapter.story.characters.only("name") if c.name.split() and c.name.split()[0] in chapter.content
    ]
    enqueue_all_after_commit([(sync_character_profile, pk, 0) for pk in named])
    return result


def sync_character_profile(character_id: int):
    character = Character.objects.filter(pk=character_id).first()
    return memory.sync_profile(character) if character else "gone"


def sync_character_memory(character_id: int):
    character = Character.objects.filter(pk=character_id).first()
    return memory.sync_character(character) if character else "gone"


def queue_unread_profiles(batch: int = 200) -> int:
    """Characters whose profile was never embedded (made before profiles were, or while Redis was down) get a
    memory sync; the maintenance process asks every round, a batch at a time."""
    ids = list(Character.objects.filter(profile_hash="").values_list("pk", flat=True)[:batch])
    if ids:
        enqueue_all_after_commit([(sync_character_memory, pk, 0) for pk in ids])
    return len(ids)


def sync_world_entry_memory(entry_id: int):
    entry = WorldEntry.objects.select_related("story").filter(pk=entry_id).first()
    return memory.sync_world_entry(entry) if entry else "gone"


def sync_story_memory(story_id: int):
    story = Story.objects.filter(pk=story_id).first()
    return memory.sync_story(story) if story else "gone"


def extract_continuity(chapter_id: int):
    """The chapter's continuity notes (summary, plot points, threads, states), for the chapters that follow."""
    chapter = Chapter.objects.select_related("story").filter(pk=chapter_id).first()
    return continuity.extract(chapter) if chapter and chapter.content.strip() else "nothing to read"


def read_chapter_facts(chapter_id: int):
    """The chapter's facts for the ledger, once its text settles; nothing is asked if the text is unchanged."""
    chapter = Chapter.objects.select_related("story").filter(pk=chapter_id).first()
    if chapter is None or not chapter.content.strip():
        return "nothing to read"
    reading = facts.extract(chapter)
    return {"facts": reading.facts_found, "note": reading.note}


def read_chapter_notes(chapter_id: int):
    """Continuity notes for a chapter the writer edited, once it settles: only when enough of it changed since
    the last reading, and only with a capable model (the writer's corrections still win, see continuity.store)."""
    chapter = Chapter.objects.select_related("story").filter(pk=chapter_id).first()
    if chapter is None or not chapter.content.strip():
        return "nothing to read"
    if continuity.needs_capable_model(chapter.story):
        return "needs a capable model"
    changed = continuity.changed_words(chapter)
    if changed is not None and changed < settings.CONTINUITY_NOTES_MIN_CHANGED_WORDS:
        return f"{changed} words changed: the notes stand"
    return continuity.extract(chapter)


def read_story_patterns(story_id: int):
    """The story's narrative patterns for the bible, from the passages memory holds (no model needed)."""
    story = Story.objects.filter(pk=story_id).first()
    if story is None:
        return "gone"
    return [pattern.key for pattern in patterns.read_story(story)]


def style_figures(story) -> tuple[list[tuple], list]:
    """The story's chapters with their style figures for a report (report.figures_for), queuing a measurement of
    the chapters it left for the background."""
    measured, pending = report.figures_for(story)
    enqueue_all_after_commit([(measure_chapter_style, chapter.pk, 0) for chapter in pending])
    return measured, pending


def measure_chapter_style(chapter_id: int):
    """The chapter's style figures for the style report and the writer's norm, once its text settles."""
    chapter = Chapter.objects.select_related("story").filter(pk=chapter_id).first()
    if chapter is None:
        return "gone"
    return report.measure_and_keep(chapter).get("words", 0)
