"""Saving a chapter, character, cast entry or world entry re-syncs its story memory in the background (and a
chapter's facts for the ledger, its continuity notes and its style figures). Deleting one removes its memory
through the database's cascade."""

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from agents import tasks
from characters.models import Character, StoryCharacter
from core.queues import enqueue_after_commit, enqueue_all_after_commit
from stories.models import Chapter, WorldEntry


@receiver(post_save, sender=Chapter)
def chapter_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        # Autosaves come every few seconds while a writer types: memory and the fact ledger catch up once they
        # settle (the ledger reads a chapter again only when its text changed).
        enqueue_all_after_commit([
            (tasks.sync_chapter_memory, instance.pk, settings.MEMORY_SYNC_DELAY),
            (tasks.read_chapter_facts, instance.pk, settings.MEMORY_SYNC_DELAY),
            (tasks.read_chapter_notes, instance.pk, settings.CONTINUITY_NOTES_DELAY),
            (tasks.measure_chapter_style, instance.pk, settings.MEMORY_SYNC_DELAY),
        ])  # fmt: skip


@receiver(post_save, sender=WorldEntry)
def world_entry_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        enqueue_after_commit(tasks.sync_world_entry_memory, instance.pk)


@receiver(post_save, sender=Character)
def character_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        enqueue_after_commit(tasks.sync_character_memory, instance.pk)


@receiver(post_save, sender=StoryCharacter)
@receiver(post_delete, sender=StoryCharacter)
def cast_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        enqueue_after_commit(tasks.sync_character_memory, instance.character_id)
