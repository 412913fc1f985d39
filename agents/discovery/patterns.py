"""Reading a story for narrative patterns: its chapters' passages as memory already holds them (text and vector),
matched against the trope catalogue, kept as StoryPattern rows the story bible lists.

With a capable model the candidates are confirmed (agents/discovery/judge.py) in one call per reading; without
one they are shown as leads. A reading is idempotent and safe to run twice: rows are updated in place per (story,
pattern), a pattern the writer dismissed stays dismissed, and patterns no longer found are removed unless
dismissed.
"""

import hashlib

import numpy as np
from django.db import transaction

from agents.discovery import judge, tropes
from agents.models import MemoryItem, MemoryKind, PatternReading, StoryPattern
from agents.services import llm
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


def judged(story, found: list, passages: list[MemoryItem]) -> tuple[dict[str, str] | None, str, str]:
    """The capable model's verdicts on the candidates ({key: quote}, None when not judged), its name, and a note
    for the bible when it could not judge."""
    if not found:
        return None, "", ""
    able, who = judge.can_judge(story)
    if not able:
        return None, "", f"{who[0].upper()}{who[1:]} cannot judge patterns: a capable model would confirm them."
    try:
        verdicts, model = judge.confirm(story, [(c.trope, passages[c.passage].text) for c in found])
    except llm.LLMError as exc:
        return None, "", f"The model did not answer ({exc}); the patterns are not confirmed."
    return verdicts, model, ""


def verdict_of(verdicts: dict | None, key: str) -> str:
    if verdicts is None:
        return StoryPattern.Verdict.UNJUDGED
    return StoryPattern.Verdict.CONFIRMED if verdicts.get(key) else StoryPattern.Verdict.NOT_FOUND


def read_story(story) -> list[StoryPattern]:
    """Match the story's passages against the catalogue, have a capable model (if the story has one) confirm the
    candidates, and store what was found; returns the shown patterns."""
    passages = story_passages(story)
    found = []
    if passages:
        vectors = np.vstack([np.asarray(p.embedding, dtype=np.float32) for p in passages])
        found = tropes.candidates([p.text for p in passages], vectors, signal_vectors())
    verdicts, model, note = judged(story, found, passages)
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
                    "verdict": verdict_of(verdicts, candidate.trope.key),
                    "quote": (verdicts or {}).get(candidate.trope.key, ""),
                },
            )
        StoryPattern.objects.filter(story=story, dismissed=False).exclude(key__in=keys).delete()
        PatternReading.objects.update_or_create(
            story=story,
            defaults={"digest": digest(p.content_hash for p in passages), "passages": len(passages),
                      "judged_by": model, "note": note},
        )  # fmt: skip
    return list(StoryPattern.objects.filter(story=story).shown())
