"""Reading a story for narrative patterns: its chapters' passages and plot points as memory already holds them
(text and vector) and its chapters' summaries and threads, matched against the trope catalogue, kept as
StoryPattern rows the story bible lists.

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
from agents.services.embeddings import embed_many, text_hash

EXCERPT_CHARS = 300


KINDS = (MemoryKind.PASSAGE, MemoryKind.PLOT_POINT)  # plot points: the continuity notes' events and states


def _passages(story):
    return MemoryItem.objects.filter(story=story, kind__in=KINDS, chapter__isnull=False).order_by(
        "chapter__order", "chapter_id", "kind", "position"
    )


def summaries(story) -> list[MemoryItem]:
    """Each chapter's summary and the plot threads its notes name (the writer's corrections included), as
    unsaved memory items with their vectors, so a reading weighs what the chapters add up to, not only their
    passages."""
    found = []
    for chapter in story.chapters.only("pk", "order", "title", "continuation_context").order_by("order"):
        notes = chapter.continuation_context or {}
        texts = [notes.get("summary") or ""] + [t.get("summary", "") for t in notes.get("threads", [])]
        for text in filter(None, (str(t).strip() for t in texts)):
            found.append(MemoryItem(story=story, chapter=chapter, kind=MemoryKind.PLOT_POINT, text=text[:2000],
                                    content_hash=text_hash(text[:2000])))  # fmt: skip
    for item, vector in zip(found, embed_many([item.text for item in found]) if found else [], strict=True):
        item.embedding = vector
    return found


def story_passages(story) -> list[MemoryItem]:
    """The story's chapter passages and plot points, and each chapter's summary and threads after them, in
    reading order, with their vectors."""
    stored = list(
        _passages(story)
        .select_related("chapter")
        .only("text", "embedding", "content_hash", "start_offset", "kind", "chapter__order", "chapter__title")
    )
    ordered = [(item.chapter.order, 0, n, item) for n, item in enumerate(stored)]
    ordered += [(item.chapter.order, 1, n, item) for n, item in enumerate(summaries(story))]
    return [item for *_, item in sorted(ordered, key=lambda row: row[:3])]


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
    except judge.Unreadable as exc:
        return None, "", f"{exc}; the patterns are not confirmed."
    return verdicts, model, ""


def verdict_of(verdicts: dict | None, key: str) -> str:
    """Confirmed with a quote, found absent, or not judged (no model, or the model left it out)."""
    if verdicts is None or key not in verdicts:
        return StoryPattern.Verdict.UNJUDGED
    return StoryPattern.Verdict.CONFIRMED if verdicts[key] else StoryPattern.Verdict.NOT_FOUND


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
                    "cues": candidate.telling,
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
            defaults={"digest": digest(p.content_hash for p in passages if p.pk), "passages": len(passages),
                      "judged_by": model, "note": note},
        )  # fmt: skip
    return list(StoryPattern.objects.filter(story=story).shown())
