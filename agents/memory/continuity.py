"""Continuity memory: once a chapter is accepted, or settles after the writer's edits, what the next chapters
must remember about it.

The model is asked for JSON (summary, plot points, threads, character states, relationship changes), which is
validated before it is stored on the chapter's continuation_context and embedded into story memory. Fields the
writer corrected are never overwritten by a later extraction.
"""

import hashlib
from typing import Literal

from django.db import transaction
from pydantic import BaseModel, Field, ValidationError

from agents.checks.text import first_sentences
from agents.memory import store as memory
from agents.models import MemoryItem, MemoryKind
from agents.services import llm
from agents.services.prompting import answer_json, render
from characters.models import CharacterRelationship
from stories.models import Chapter

FIELDS = ("summary", "plot_points", "threads", "character_states", "relationships")


class PlotPoint(BaseModel):
    text: str = Field(min_length=1, max_length=500)
    importance: int = Field(5, ge=1, le=10)


class Thread(BaseModel):
    summary: str = Field(min_length=1, max_length=500)
    status: Literal["open", "resolved"] = "open"
    importance: int = Field(5, ge=1, le=10)


class RelationshipChange(BaseModel):
    source: str
    target: str
    kind: str = ""
    strength: int | None = Field(None, ge=1, le=10)
    change: str = ""
    applied: bool = False  # the writer applied it to the relationship


class Continuity(BaseModel):
    summary: str = Field(min_length=1, max_length=2000)
    plot_points: list[PlotPoint] = []
    threads: list[Thread] = []
    character_states: dict[str, str] = {}
    relationships: list[RelationshipChange] = []


def parse(text: str) -> Continuity | None:
    data = answer_json(text)
    if data is None:
        return None
    try:
        return Continuity.model_validate(data)
    except ValidationError:
        return None


def open_threads_before(chapter: Chapter) -> list[str]:
    threads = {}
    for earlier in chapter.story.chapters.filter(order__lt=chapter.order):
        for thread in earlier.continuation_context.get("threads", []):
            threads[thread["summary"]] = thread.get("status", "open")
    return [summary for summary, status in threads.items() if status == "open"]


def extract(chapter: Chapter) -> dict:
    """Extract, validate and store the chapter's continuity notes; returns what was stored."""
    prompt = render(
        "continuity_extract",
        title=chapter.story.title,
        cast=list(chapter.story.characters.values_list("name", flat=True)),
        open_threads=open_threads_before(chapter),
        chapter_title=chapter.title,
        text=chapter.content,
    )
    messages = [{"role": "user", "content": prompt}]
    continuity = None
    for attempt in range(2):  # one more try, deterministic, if the first answer was not valid JSON
        # No cache: reading a chapter again (after it changed, or on request) must really ask again.
        result = llm.generate(
            messages, story=chapter.story, temperature=0.2 if attempt == 0 else 0, max_tokens=700, cache=False
        )
        continuity = parse(result.text)
        if continuity:
            break
    if continuity:
        extracted = continuity.model_dump()
    else:  # keep earlier good notes; a plain summary only where there is none
        extracted = (
            {} if chapter.continuation_context.get("summary") else {"summary": fallback_summary(chapter.content)}
        )
    return store(chapter, extracted, extraction_ok=continuity is not None, model=result.model)


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def paragraph_hash(paragraph: str) -> str:
    return hashlib.sha1(paragraph.encode()).hexdigest()[:12]


def paragraph_hashes(text: str) -> list[str]:
    return [paragraph_hash(p) for p in paragraphs(text)]


def changed_words(chapter: Chapter) -> int | None:
    """Words in the paragraphs that are new since the notes were last read (None if they never were): a typo fixed
    is not worth asking the model again, a scene rewritten is."""
    previous = (chapter.continuation_context.get("extraction") or {}).get("paragraphs")
    if previous is None:
        return None
    known = set(previous)
    return sum(len(p.split()) for p in paragraphs(chapter.content) if paragraph_hash(p) not in known)


def needs_capable_model(story) -> bool:
    """The built-in model cannot read a chapter into notes (it invents them); hand-written chapters wait for a
    capable one."""
    return not llm.resolve(story=story).profile.judges


def fallback_summary(text: str) -> str:
    """The chapter's first two sentences, when the model gave nothing usable."""
    return " ".join(first_sentences(text, 2))[:500] or (text or "")[:300]


def _locked_context(chapter: Chapter) -> dict:
    """The notes as stored now (inside a transaction, locked): the model takes seconds to answer, and a
    correction the writer saved meanwhile must not be overwritten with an older copy."""
    current = Chapter.objects.select_for_update().only("continuation_context").get(pk=chapter.pk)
    return dict(current.continuation_context or {})


def store(chapter: Chapter, extracted: dict, *, extraction_ok: bool, model: str = "") -> dict:
    with transaction.atomic():
        context = _locked_context(chapter)
        corrected = set(context.get("corrected_fields", []))
        for field in FIELDS:
            if field in extracted and field not in corrected:
                context[field] = extracted[field]
        context["extraction"] = {"ok": extraction_ok, "model": model, "paragraphs": paragraph_hashes(chapter.content)}
        Chapter.objects.filter(pk=chapter.pk).update(continuation_context=context)
    chapter.continuation_context = context
    remember_notes(chapter, context)
    return context


def remember_notes(chapter: Chapter, context: dict) -> None:
    """Plot points and where each character ends up join story memory, so later chapters can retrieve them by
    meaning, and the quality checks can compare a new chapter with them."""
    MemoryItem.objects.filter(chapter=chapter, kind=MemoryKind.PLOT_POINT).delete()
    for point in context.get("plot_points", []):
        memory.remember(
            chapter.story, MemoryKind.PLOT_POINT, point["text"], chapter=chapter,
            metadata={"importance": point.get("importance", 5), "chapter_order": chapter.order},
        )  # fmt: skip
    for name, state in context.get("character_states", {}).items():
        memory.remember(
            chapter.story, MemoryKind.PLOT_POINT, f"{name} at the end of “{chapter.title}”: {state}", chapter=chapter,
            metadata={"character_state": name, "importance": 5, "chapter_order": chapter.order},
        )  # fmt: skip


def correct(chapter: Chapter, field: str, value) -> dict:
    """The writer's correction of one field; it wins over every later extraction."""
    if field not in FIELDS:
        raise ValueError(f"Unknown continuity field: {field}")
    validated = Continuity.model_validate({"summary": "x", **{field: value}}).model_dump()[field]
    with transaction.atomic():
        context = _locked_context(chapter)
        context[field] = validated
        context["corrected_fields"] = sorted(set(context.get("corrected_fields", [])) | {field})
        Chapter.objects.filter(pk=chapter.pk).update(continuation_context=context)
    chapter.continuation_context = context
    if field in ("plot_points", "character_states"):
        remember_notes(chapter, context)
    return context


def set_thread_status(chapter: Chapter, summary: str, status: str) -> dict:
    """The writer marks a thread of this chapter open or resolved; like any correction, it wins over extraction."""
    if status not in ("open", "resolved"):
        raise ValueError("A thread is either open or resolved.")
    chapter.refresh_from_db(fields=["continuation_context"])
    threads = [dict(t) for t in chapter.continuation_context.get("threads", [])]
    thread = next((t for t in threads if t["summary"] == summary), None)
    if thread is None:
        raise ValueError("That thread is not in this chapter's notes any more.")
    thread["status"] = status
    return correct(chapter, "threads", threads)


def set_character_state(chapter: Chapter, name: str, state: str) -> dict:
    """The writer's word on where a character is, and how, at the end of this chapter."""
    chapter.refresh_from_db(fields=["continuation_context"])
    states = {**chapter.continuation_context.get("character_states", {}), name: state}
    return correct(chapter, "character_states", states)


def apply_relationship_change(chapter: Chapter, index: int):
    """The writer accepts a relationship change the chapter told: the relationship between the two cast members
    takes it (with its history), and the change is marked applied in the notes."""
    chapter.refresh_from_db(fields=["continuation_context"])
    changes = [dict(c) for c in chapter.continuation_context.get("relationships", [])]
    if not 0 <= index < len(changes):
        raise ValueError("That change is not in this chapter's notes any more.")
    change = changes[index]
    cast = {c.name.lower(): c for c in chapter.story.characters.all()}
    source, target = cast.get(str(change.get("source", "")).lower()), cast.get(str(change.get("target", "")).lower())
    if source is None or target is None or source == target:
        raise ValueError(f"“{change.get('source')}” and “{change.get('target')}” are not two members of the cast.")
    relationship = CharacterRelationship.apply_change(
        source, target, kind=str(change.get("kind", "")).lower(), strength=change.get("strength"),
        change=change.get("change", ""), where=chapter.title,
    )  # fmt: skip
    change["applied"] = True
    correct(chapter, "relationships", changes)
    return relationship
