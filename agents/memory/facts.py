"""The fact ledger: typed facts a chapter states (subject, attribute, aspect, value, the quote that says so), each
valid from its chapter on.

A settled or accepted chapter is read for facts through the provider's structured output (a JSON schema: a
llama.cpp grammar, Ollama's `format`, OpenAI's `response_format`). Only facts whose quote is really in the
chapter, and whose value the quote bears out, are kept. A fact stated as a change ("the miller drowned in the
flood") makes its value the one in force from that chapter on, so a later chapter is compared with the fact valid
at its point in the story. Contradiction candidates are a fact of the checked chapter and the fact in force before
it with the same subject, attribute and aspect, a different value, and no change stated; the judge confirms them.

The small built-in model invents facts (valid JSON, made-up values), so chapters are read only with a capable
model unless FACTS_WITH_EMBEDDED_MODEL says otherwise; the bible says so.
"""

import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from pydantic import BaseModel, Field, ValidationError

from agents.checks.consistency import WORD_RE, grounded
from agents.models import Fact, FactAttribute, FactReading
from agents.services import llm
from agents.services.prompting import answer_json, render
from stories.models import Chapter

CAPABLE_MODEL_NOTE = (
    "Not read for facts: the story's model is too small to extract facts reliably (it invents them). Choose a "
    "capable model for this story to build the fact ledger."
)


class ExtractedFact(BaseModel):
    subject: str = Field(min_length=1, max_length=200)
    subject_kind: str = "character"
    attribute: str
    aspect: str = Field("", max_length=100)
    value: str = Field(min_length=1, max_length=500)
    change: bool = False
    quote: str = Field(min_length=1, max_length=1000)


class FactsAnswer(BaseModel):
    facts: list[ExtractedFact] = []


SCHEMA = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "subject": {"type": "string"},
                    "subject_kind": {"type": "string", "enum": [k for k, _ in Fact.SubjectKind.choices]},
                    "attribute": {"type": "string", "enum": list(FactAttribute.values)},
                    "aspect": {"type": "string"},
                    "value": {"type": "string"},
                    "change": {"type": "boolean"},
                    "quote": {"type": "string"},
                },
                "required": ["subject", "subject_kind", "attribute", "aspect", "value", "change", "quote"],
            },
        }
    },
    "required": ["facts"],
}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def needs_capable_model(story) -> bool:
    return not llm.resolve(story=story).profile.judges and not settings.FACTS_WITH_EMBEDDED_MODEL


def windows(text: str, words: int) -> list[tuple[int, str]]:
    """The chapter in passages of about `words` words, cut at paragraph ends where it can be, with offsets."""
    out, start, count = [], 0, 0
    for match in re.finditer(r"\S+", text):
        count += 1
        if count >= words and (text[match.end() : match.end() + 2] == "\n\n" or count >= words * 1.5):
            out.append((start, text[start : match.end()]))
            start, count = match.end(), 0
    if text[start:].strip():
        out.append((start, text[start:]))
    return out


def locate(quote: str, text: str, start: int = 0) -> int | None:
    """Where the quote is in the text: exactly, or with different spacing or case; None if it is not there."""
    at = text.find(quote, start)
    if at >= 0:
        return at
    words = [re.escape(w) for w in quote.split()]
    if not words:
        return None
    match = re.compile(r"\s+".join(words), re.I).search(text, start)
    return match.start() if match else None


# Judgements the quote rarely spells out ("died in the flood" is "dead"): the judge weighs them later.
INFERRED = frozenset({"condition", "ability", "knowledge"})


def borne_out(fact: ExtractedFact, quote: str) -> bool:
    """The quote must state the value (most of its words): small models copy a real sentence and attach a value
    nobody wrote ("red hair" for "grey eyes")."""
    value_words = [w for w in WORD_RE.findall(fact.value) if len(w) >= 3]
    return fact.attribute in INFERRED or not value_words or grounded(fact.value, quote)


def read_passage(chapter, offset: int, passage: str, cast: list[str]) -> tuple[list[dict], str]:
    prompt = render(
        "facts_extract",
        title=chapter.story.title,
        chapter_title=chapter.title,
        attributes=list(FactAttribute.values),
        cast=cast,
        text=passage,
    )
    result = llm.generate(
        [{"role": "user", "content": prompt}],
        story=chapter.story,
        temperature=0,
        max_tokens=settings.FACTS_MAX_TOKENS,
        schema=SCHEMA,
        cache=False,
    )
    try:
        answer = FactsAnswer.model_validate(answer_json(result.text) or {})
    except ValidationError:
        return [], result.model
    found = []
    for fact in answer.facts:
        if fact.attribute not in FactAttribute.values:
            continue
        at = locate(fact.quote, passage)
        if at is None or not borne_out(fact, passage[at : at + len(fact.quote) + 20]):
            continue
        kind = fact.subject_kind if fact.subject_kind in Fact.SubjectKind.values else Fact.SubjectKind.CHARACTER
        found.append({
            "subject": fact.subject.strip(), "subject_kind": kind, "attribute": fact.attribute,
            "aspect": fact.aspect.strip()[:100], "value": fact.value.strip()[:500], "is_change": fact.change,
            "quote": passage[at : at + len(fact.quote)], "offset": offset + at,
        })  # fmt: skip
    return found, result.model


def extract(chapter: Chapter, *, force: bool = False) -> FactReading:
    """Read the chapter for facts (unless its text is unchanged since the last reading) and store them: extracted
    facts of this chapter are replaced, the writer's own, pinned and deleted ones stay."""
    digest = text_hash(chapter.content)
    reading = FactReading.objects.filter(chapter=chapter).first()
    if reading and reading.text_hash == digest and not force:
        return reading
    if needs_capable_model(chapter.story):
        reading, _ = FactReading.objects.update_or_create(
            chapter=chapter, defaults={"text_hash": "", "model": "", "facts_found": 0, "note": CAPABLE_MODEL_NOTE}
        )
        return reading
    cast = list(chapter.story.characters.values_list("name", flat=True))
    found, model = [], ""
    passages = windows(chapter.content, settings.FACTS_WORDS_PER_CALL)
    parts = passages[: settings.FACTS_MAX_CALLS_PER_CHAPTER]  # a bound on model calls per chapter
    for offset, passage in parts:
        facts, model = read_passage(chapter, offset, passage, cast)
        found += facts
    note = ""
    if len(parts) < len(passages):  # said to the writer in the bible
        note = (
            f"This long chapter was read as far as passage {len(parts)} of {len(passages)}; "
            "later facts are not in the ledger."
        )
    store(chapter, found)
    reading, _ = FactReading.objects.update_or_create(
        chapter=chapter, defaults={"text_hash": digest, "model": model, "facts_found": len(found), "note": note}
    )
    return reading


def store(chapter: Chapter, found: list[dict]) -> None:
    with transaction.atomic():
        # One reading of a chapter at a time: a second job waits, then replaces with what it read.
        Chapter.objects.select_for_update().filter(pk=chapter.pk).exists()
        kept = Fact.objects.filter(chapter=chapter).exclude(origin=Fact.Origin.EXTRACTED, status=Fact.Status.ACTIVE)
        taken = {(f.key, f.value.lower()) for f in kept}
        Fact.objects.filter(chapter=chapter, origin=Fact.Origin.EXTRACTED, status=Fact.Status.ACTIVE).delete()
        for data in found:
            fact = Fact(story_id=chapter.story_id, chapter=chapter, **data)
            fact.key = Fact.make_key(fact.subject, fact.attribute, fact.aspect)
            if (fact.key, fact.value.lower()) in taken:
                continue  # the writer deleted it, pinned it or wrote it: theirs stands
            taken.add((fact.key, fact.value.lower()))
            try:
                with transaction.atomic():
                    fact.save()
            except IntegrityError:
                continue  # the same value stated twice in the chapter


# -- contradiction candidates ------------------------------------------------------------------------------------


@dataclass
class FactPair:
    earlier: Fact
    new: Fact


def same_value(a: str, b: str) -> bool:
    words = lambda v: {w.lower() for w in WORD_RE.findall(v)}  # noqa: E731
    return words(a) == words(b) or a.strip().lower() == b.strip().lower()


def candidates(chapter: Chapter, start: int = 0, end: int | None = None) -> list[FactPair]:
    """Facts of the chapter (those stated between `start` and `end`) that differ from the fact in force before the
    chapter on the same subject, attribute and aspect, where the chapter does not state a change."""
    valid = Fact.objects.valid_before(chapter)
    if not valid:
        return []
    pairs = []
    for fact in Fact.objects.in_force().filter(chapter=chapter).order_by("offset"):
        if fact.offset is not None and (fact.offset < start or (end is not None and fact.offset >= end)):
            continue
        earlier = valid.get(fact.key)
        if earlier is None or fact.is_change or same_value(earlier.value, fact.value):
            continue
        pairs.append(FactPair(earlier, fact))
    return pairs


def correct(fact: Fact, value: str) -> Fact:
    """The writer's value wins: the fact becomes theirs and is never replaced by a later reading."""
    fact.value, fact.origin = value.strip()[:500], Fact.Origin.WRITER
    fact.save(update_fields=["value", "origin", "key", "updated_at"])
    return fact


def pin(fact: Fact, pinned: bool = True) -> Fact:
    fact.status = Fact.Status.PINNED if pinned else Fact.Status.ACTIVE
    fact.save(update_fields=["status", "key", "updated_at"])
    return fact


def reject(fact: Fact) -> Fact:
    """Deleted by the writer: kept out of every check, and kept as a tombstone so no reading brings it back."""
    fact.status = Fact.Status.REJECTED
    fact.save(update_fields=["status", "key", "updated_at"])
    return fact
