"""Quality assurance agent: reads a draft and says pass, warn or fail, with findings the writer and the
narrative writer can act on."""

from collections import Counter

import numpy as np
from django.conf import settings

from agents.checks import consistency, continuity_check, genre, voices
from agents.checks.grammar import check_story_text
from agents.checks.text import sentences
from agents.models import IgnoredFinding, MemoryItem, MemoryKind
from agents.services import embeddings
from agents.team.base import AgentContext
from agents.team.messages import AgentMessage, Draft, Finding, QualityReport, StepResult

MIN_SHARE_OF_TARGET = 0.3
MAX_REPEATS = 2
EARLIER_CHARS = 400_000  # of the story's text searched for earlier lines: the most recent chapters first


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


def earlier_text(ctx: AgentContext) -> str:
    """The story up to the draft (its own chapter included), newest chapters first, bounded."""
    chapters = ctx.story.chapters.order_by("-order")
    if ctx.chapter is not None:
        chapters = chapters.filter(order__lte=ctx.chapter.order)
    parts, size = [], 0
    for content in chapters.values_list("content", flat=True).iterator():
        parts.append(content[-(EARLIER_CHARS - size) :])
        size += len(parts[-1])
        if size >= EARLIER_CHARS:
            break
    return "\n\n".join(parts)


def voice_findings(ctx: AgentContext, text: str) -> tuple[list[Finding], dict]:
    """Each speaking character's lines in the draft against their earlier lines and the rest of the cast's: a
    signal (info) when they sound closer to someone else. Not a gate: characters of one author often sound alike
    (bench/voices.py measures how well the score separates voices)."""
    names = list(ctx.story.characters.values_list("name", flat=True))
    drafted = voices.lines_by_speaker(text, names)
    if not drafted:
        return [], {}
    results = voices.scores(drafted, voices.lines_by_speaker(earlier_text(ctx), names))
    findings = [
        finding(
            "voice",
            "info",
            f"{name}'s lines here sound closer to how {r['closest_other']} spoke earlier ({r['other']:.2f}) than to "
            f"{name}'s own earlier lines ({r['own']:.2f}).",
        )  # fmt: skip
        for name, r in results.items()
        if r["other"] is not None and r["own"] < r["other"]
    ]
    return findings, results


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
    if not ctx.target.profile.judges:  # too small to judge facts and characters: the rules below still run
        contradictions, judging = consistency.cannot_judge(ctx.target.profile)
    else:
        contradictions, judging = consistency.contradictions(
            ctx.story, text, chapter=ctx.chapter, include_chapter=True, ignored=ignored
        )
    # Eye and hair colours and the dead acting need no model; the draft joins the end of its chapter.
    before = ctx.chapter.content if ctx.chapter is not None else None
    looks, _ = continuity_check.rule_findings(ctx, text, 0, before=before)
    looks, contradictions = continuity_check.merge_repeats(looks, contradictions, ignored)
    findings += looks + contradictions
    genre_fit, genre_report = genre.genre_findings(ctx.story, text, ignored)
    findings += genre_fit
    grammar, grammar_report = grammar_findings(ctx.story, text) if text.strip() else ([], {})
    findings += grammar
    voice, voice_scores = voice_findings(ctx, text)
    findings += voice
    report = QualityReport.judge(
        findings,
        signals={"character_similarity": signals, "voices": voice_scores},
        consistency=judging,
        genre=genre_report,
        grammar=grammar_report,
    )
    return StepResult(report)
