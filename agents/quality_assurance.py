"""Quality assurance agent: reads a draft and says pass, warn or fail, with findings the writer and the
narrative writer can act on."""

from collections import Counter

import numpy as np
from django.conf import settings

from . import consistency, embeddings, genre
from .base import AgentContext
from .grammar import check_story_text
from .messages import AgentMessage, Draft, Finding, QualityReport, StepResult
from .models import IgnoredFinding, MemoryItem, MemoryKind
from .text import sentences

MIN_SHARE_OF_TARGET = 0.3
MAX_REPEATS = 2


def finding(check, severity, message, evidence="") -> Finding:
    return Finding(check=check, severity=severity, message=message, evidence=evidence)


def length_findings(text: str, target_words: int | None) -> list[Finding]:
    words = len(text.split())
    if not words:
        return [finding("length", "fail", "The draft is empty.")]
    if target_words and words < target_words * MIN_SHARE_OF_TARGET:
        return [finding("length", "fail", f"The draft has {words} words; about {target_words} were asked for.")]
    return []


def repetition_findings(text: str) -> list[Finding]:
    counts = Counter(sentence.lower() for _, sentence in sentences(text) if len(sentence.split()) >= 4)
    return [
        finding("repetition", "fail", f"A sentence repeats {count} times.", sentence)
        for sentence, count in counts.items()
        if count > MAX_REPEATS
    ]


def character_similarity(ctx: AgentContext, text: str) -> dict:
    """For each cast member the draft names: how close what it says about them is to their stored description.
    Only a signal in the report: a contradiction ("green eyes", "blue eyes") scores as close as an agreement, so
    the consistency judge, not this number, decides."""
    signals = {}
    found = [sentence for _, sentence in sentences(text)]
    descriptions = {
        item.character_id: item
        for item in MemoryItem.objects.filter(story=ctx.story, kind=MemoryKind.CHARACTER).select_related("character")
    }
    for item in descriptions.values():
        name = item.character.name
        mentions = [s for s in found if name in s]
        if not mentions:
            continue
        vectors = np.stack(embeddings.embed_many(mentions))
        similarity = float(np.max(vectors @ np.asarray(item.embedding, dtype=np.float32)))
        signals[name] = round(similarity, 3)
    return signals


def grammar_findings(story, text: str) -> tuple[list[Finding], dict]:
    """One finding summarising grammar and style, its severity set by matches per 100 words; the matches
    themselves (with offsets and replacements) go in the report for the editor."""
    report = check_story_text(story, text)
    # Said when the configured server did not answer and the built-in checker stood in.
    notes = [finding("grammar", "info", report["note"])] if report["note"] else []
    if not report["matches"]:
        return notes, report
    rate = 100 * len(report["matches"]) / max(len(text.split()), 1)
    severity = (
        "fail" if rate > settings.GRAMMAR_FAIL_PER_100_WORDS
        else "warn" if rate > settings.GRAMMAR_WARN_PER_100_WORDS
        else "info"
    )  # fmt: skip
    first = report["matches"][0]
    summary = f"{len(report['matches'])} grammar or style issue(s), {rate:.1f} per 100 words. First: {first['message']}"
    return [*notes, finding("grammar", severity, summary, first["excerpt"])], report


def check(ctx: AgentContext, message: AgentMessage) -> StepResult:
    text = message.context.get(message.payload["draft"], Draft()).text
    findings = length_findings(text, message.payload.get("target_words"))
    findings += repetition_findings(text)
    signals = character_similarity(ctx, text)
    ignored = IgnoredFinding.objects.fingerprints(ctx.story)
    # The draft joins its chapter, so it is compared with the chapter's own text as well as earlier chapters.
    contradictions, judging = consistency.contradictions(
        ctx.story, text, chapter=ctx.chapter, include_chapter=True, ignored=ignored
    )
    findings += contradictions
    genre_fit, genre_report = genre.genre_findings(ctx.story, text, ignored)
    findings += genre_fit
    grammar, grammar_report = grammar_findings(ctx.story, text) if text.strip() else ([], {})
    findings += grammar
    report = QualityReport.judge(
        findings,
        signals={"character_similarity": signals},
        consistency=judging,
        genre=genre_report,
        grammar=grammar_report,
    )
    return StepResult(report)
