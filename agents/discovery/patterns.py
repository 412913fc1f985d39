"""Reading a story for narrative patterns: its chapters' passages as memory already holds them (text and vector),
matched against the trope catalogue, kept as StoryPattern rows the story bible lists.

A reading is idempotent and safe to run twice: rows are updated in place per (story, pattern), a pattern the
writer dismissed stays dismissed, and patterns no longer found are removed unless dismissed.
"""

import hashlib

import numpy as np
from django.db import transaction

from agents.discovery import tropes
from agents.models import MemoryItem, MemoryKind, PatternReading, StoryPattern
from agents.services.embeddings import embed_many

EXCERPT_CHARS = 300


def _passages(story):
    return MemoryItem.objects.filter(story=story, kind=MemoryKind.PASSAGE, chapter__isnull=False).order_by(
        "chapter__order", "chapter_id", "position"
    )


def story_passages(story) -> list[MemoryItem]:
    """The story's chapter passages in reading order, with their vectors."""
    return list(
        _passages(story)
        .select_related("chapter")
        .only("text", "embedding", "content_hash", "start_offset", "chapter__order", "chapter__title")
    )


def digest(hashes) -> str:
    return hashlib.sha256("\0".join(hashes).encode()).hexdigest()


def is_stale(story) -> bool:
    """True when the chapters' passages changed since the last reading, or the story was never read."""
    reading = PatternReading.objects.filter(story=story).first()
    return reading is None or reading.digest != digest(_passages(story).values_list("content_hash", flat=True))


def signal_vectors() -> np.ndarray:
    texts, _ = tropes.signal_texts()
    return np.vstack(embed_many(texts))


def read_story(story) -> list[StoryPattern]:
    """Match the story's passages against the catalogue and store what was found; returns the shown patterns."""
    passages = story_passages(story)
    found = []
    if passages:
        vectors = np.vstack([np.asarray(p.embedding, dtype=np.float32) for p in passages])
        found = tropes.candidates([p.text for p in passages], vectors, signal_vectors())
    with transaction.atomic():
        keys = set()
        for candidate in found:
            passage = passages[candidate.passage]
            keys.add(candidate.trope.key)
            StoryPattern.objects.update_or_create(
                story=story,
                key=candidate.trope.key,
                defaults={
                    "score": candidate.score,
                    "similarity": candidate.similarity,
                    "cues": candidate.cues,
                    "chapter": passage.chapter,
                    "start_offset": passage.start_offset,
                    "excerpt": passage.text[:EXCERPT_CHARS],
                },
            )
        StoryPattern.objects.filter(story=story, dismissed=False).exclude(key__in=keys).delete()
        PatternReading.objects.update_or_create(
            story=story, defaults={"digest": digest(p.content_hash for p in passages), "passages": len(passages)}
        )
    return list(StoryPattern.objects.filter(story=story).shown())
