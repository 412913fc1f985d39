"""Checking the writer's own text: a chapter (or a selection of it) against everything the story established
before it, its profiles, earlier chapters, continuity notes and the fact ledger, never against later chapters.

Name drift, eye and hair colours, the dead acting and grammar need no model, so the built-in set-up still
catches those. The ledger's candidates (a fact of this chapter that differs from the fact in force before it, with
no change told) are judged first, then the closest sentence pairs, within CONTINUITY_CHECK_MAX_CALLS judge calls
in all; with the small built-in model the report says plainly that those checks need a capable one.
"""

from functools import partial

from django.conf import settings

from agents.checks import appearance, consistency, deaths
from agents.checks.grammar import check_story_text, dictionary_words, story_names
from agents.checks.names import established_names, name_drifts, person_words, stand_ins
from agents.memory import facts
from agents.models import IgnoredFinding
from agents.services import llm
from agents.team.base import AgentContext
from agents.team.messages import AgentMessage, CheckRun, Earlier, Finding, QualityReport, StepResult, fingerprint
from stories.models import Chapter


def capable_model_note(profile) -> str:
    return (
        f"{profile.who.capitalize()} is too small to judge facts and characters: it misses most contradictions. "
        "Choose a capable model for this story (an 8B instruct model or larger, through Ollama or an "
        "OpenAI-compatible server) for these checks to be worth having."
    )


CONTEXT_CHARS = 60


def checked_text(ctx: AgentContext) -> tuple[str, int, str]:
    """The text to check as the chapter reads now, where it starts in the chapter, and what it is. A selection is
    found again by its text, since the writer may have typed elsewhere in the chapter since asking."""
    content = ctx.chapter.content
    wanted = ctx.request.selection.text if ctx.request.selection else ""
    if wanted.strip():
        start = content.find(wanted)
        if start >= 0:
            return wanted, start, "the selection"
        return content, 0, "the whole chapter (the selection has changed since the check was asked for)"
    return content, 0, "the whole chapter"


CHAPTER_FIELDS = ("id", "order", "title", "content")


def earlier_chapters(chapter) -> list[Chapter]:
    return list(
        Chapter.objects.filter(story_id=chapter.story_id, order__lt=chapter.order)
        .only(*CHAPTER_FIELDS)
        .order_by("order")
    )


def around(text: str, offset: int, length: int) -> str:
    start, end = max(0, offset - CONTEXT_CHARS), min(len(text), offset + length + CONTEXT_CHARS)
    return ("…" if start else "") + text[start:end].replace("\n", " ") + ("…" if end < len(text) else "")


def name_drift_findings(
    ctx: AgentContext, text: str, base: int, ignored, chapters: list[Chapter]
) -> tuple[list[Finding], CheckRun]:
    # The chapter's own text outside the selection counts as established too.
    own = ctx.chapter.content[:base] + "\n" + ctx.chapter.content[base + len(text) :]
    sources = [own] + [c.content for c in chapters]
    labels = [f"this chapter, “{ctx.chapter.title}”"] + [consistency.chapter_source(c) for c in chapters]
    ids = [ctx.chapter.pk] + [c.pk for c in chapters]

    def cited(name: str, use) -> tuple[str, Earlier]:
        """Where a name is first used, as the finding cites it."""
        if use is None:
            return "the story's cast and world", Earlier(text=name, source="The cast and world")
        source_text = text if use.source == 0 else sources[use.source - 1]
        label = "this passage" if use.source == 0 else labels[use.source - 1]
        chapter_id = ctx.chapter.pk if use.source == 0 else ids[use.source - 1]
        return label, Earlier(text=around(source_text, use.offset, len(name)), source=label, chapter=chapter_id)

    findings = []
    names = story_names(ctx.story)
    for drift in name_drifts(text, sources, names):
        key = fingerprint("name_drift", drift.rare, drift.usual)
        if key in ignored:
            continue
        here = [u for u in drift.rare_uses if u.source == 0]
        where, earlier = cited(drift.usual, drift.usual_uses[0] if drift.usual_uses else None)
        findings.append(
            Finding(
                check="name_drift",
                severity="warn",
                message=(
                    f"“{drift.rare}” appears {len(drift.rare_uses)} time(s); the story spells it “{drift.usual}” "
                    f"{len(drift.usual_uses)} time(s) (first in {where}). A slip of the pen?"
                ),
                evidence=drift.rare,
                offset=base + here[0].offset,
                length=len(drift.rare),
                earlier=earlier,
                fingerprint=key,
            )
        )
    dictionary = partial(dictionary_words, dialect=ctx.story.settings.dialect)
    for stand_in in stand_ins(text, sources, names, dictionary=dictionary):
        key = fingerprint("name_drift", stand_in.name, stand_in.usual)
        if key in ignored:
            continue
        # The main character's last use before the stand-in: the passage it stands in.
        before = [u for u in stand_in.usual_uses if u.source == 0 and u.offset < stand_in.use.offset]
        _, earlier = cited(stand_in.usual, before[-1])
        findings.append(
            Finding(
                check="name_drift",
                severity="info",
                message=(
                    f"“{stand_in.name}” is named only here, in a passage about {stand_in.usual} "
                    f"(named {len(stand_in.usual_uses)} times). If it means {stand_in.usual}, the name slipped; "
                    "if it is someone new, adding them to the cast keeps this quiet."
                ),
                evidence=stand_in.name,
                offset=base + stand_in.use.offset,
                length=len(stand_in.name),
                earlier=earlier,
                fingerprint=key,
            )
        )
    detail = (
        f"names compared with {len(chapters)} earlier chapter(s) and the cast; names used once where a main "
        "character is expected"
    )
    return findings, CheckRun(name="Name spellings", detail=detail)


def rule_findings(
    ctx: AgentContext, text: str, base: int, chapters: list[Chapter] | None = None, before: str | None = None
) -> tuple[list[Finding], CheckRun]:
    """Eye and hair colours against the profiles, and acts of the dead, against the earlier `chapters` (when not
    given: those before the chapter, or every chapter for a draft of a new one) and the chapter's text before the
    passage (`before`, when not the chapter up to `base`). Dismissed findings are among them: merge_repeats leaves
    them out."""
    chapter = ctx.chapter
    if chapters is None and chapter is None:
        chapters = list(ctx.story.chapters.only(*CHAPTER_FIELDS).order_by("order"))
    elif chapters is None:
        chapters = earlier_chapters(chapter)
    earlier = [c.content for c in chapters]
    labels = [consistency.chapter_source(c) for c in chapters]
    ids = [c.pk for c in chapters]
    if chapter is not None:
        earlier.append(chapter.content[:base] if before is None else before)
        labels.append(f"this chapter, “{chapter.title}”")
        ids.append(chapter.pk)
    characters = {c.name: c for c in ctx.story.characters.only("id", "name", "appearance")}
    profiles = {name: c.appearance for name, c in characters.items() if c.appearance.strip()}
    dictionary = partial(dictionary_words, dialect=ctx.story.settings.dialect)
    names = [*story_names(ctx.story), *established_names([text, *earlier])]
    people = person_words(names, dictionary)

    def finding(source: int, passage: str, person: str, message: str, offset: int, length: int, key: str):
        """A slip in the checked text at `offset`, citing `passage` where `source` says (-1 the person's profile, 0
        this passage, 1.. the earlier texts); `message` gets the place named for {where}."""
        if source == -1:
            where = f"{person}'s profile"
            earlier_cited = Earlier(text=passage, source=where, character=characters[person].pk)
        elif source == 0:
            where = "this passage"
            earlier_cited = Earlier(text=passage, source=where, chapter=chapter.pk if chapter else None)
        else:
            where = labels[source - 1]
            earlier_cited = Earlier(text=passage, source=where, chapter=ids[source - 1])
        return Finding(
            check="character_consistency", severity="warn", message=message.replace("{where}", where),
            evidence=text[offset : offset + length], offset=base + offset, length=length, earlier=earlier_cited,
            fingerprint=key,
        )  # fmt: skip

    findings = [
        finding(
            slip.source, slip.established.sentence, slip.new.person,
            f"{slip.new.person}'s {slip.new.feature}: {slip.new.colour} here, but {slip.established.colour} in "
            "{where}, and no change is told.",
            slip.new.offset, slip.new.length,
            fingerprint("appearance", slip.new.person, slip.new.feature, slip.new.colour, slip.established.colour),
        )
        for slip in appearance.slips(text, earlier, profiles, people)
    ] + [
        finding(
            slip.source, slip.death.sentence, slip.act.person,
            f"{slip.act.person} acts here, but died in {{where}}, and no return is told.",
            slip.act.offset, slip.act.length, fingerprint("dead_acting", slip.act.person, slip.death.sentence),
        )
        for slip in deaths.slips(text, earlier, people)
    ]  # fmt: skip
    detail = (
        f"eye and hair colours compared with {len(profiles)} profile(s) and {len(chapters)} earlier chapter(s), and "
        "what the dead do; no model needed"
    )
    return findings, CheckRun(name="Appearance and deaths", detail=detail)


def merge_repeats(rule_findings: list[Finding], judged: list[Finding], ignored) -> tuple[list[Finding], list[Finding]]:
    """A rule's finding and the judge's on one passage are one finding: the judge's (it reads better) stands for
    both and dismissing it dismisses both; once the rule's is dismissed, the judge's goes too. The rule's findings
    come in with the dismissed ones still among them."""
    kept, dropped = [], set()
    for finding in rule_findings:
        end = finding.offset + finding.length
        same = [
            j for j in judged
            if j.offset is not None and j.offset < end and finding.offset < j.offset + (j.length or len(j.evidence))
        ]  # fmt: skip
        if finding.fingerprint in ignored:
            dropped.update(id(j) for j in same)
        elif same:
            for j in same:
                j.same_as.append(finding.fingerprint)
        else:
            kept.append(finding)
    return kept, [j for j in judged if id(j) not in dropped]


def grammar_findings(ctx: AgentContext, text: str, base: int) -> tuple[list[Finding], dict, CheckRun]:
    report = check_story_text(ctx.story, text)
    for match in report["matches"]:
        match["offset"] += base
    found = len(report["matches"])
    findings = (
        [
            Finding(
                check="grammar",
                severity="info",
                message=f"{found} grammar or style suggestion(s): open "
                "“Check grammar and style” in the editor to go through them.",
            )
        ]  # fmt: skip
        if found
        else []
    )
    checker = "the built-in checker (Harper)" if report["checker"] == "Harper" else report["checker"]
    run = CheckRun(name="Grammar and style", detail=f"{checker}, {report['dialect']}", note=report["note"])
    return findings, report, run


def ledger_findings(ctx: AgentContext, text: str, base: int, ignored) -> tuple[list[Finding], int, CheckRun]:
    """Facts the checked passage states against the facts in force before its chapter; returns the judge calls
    it made."""
    if facts.needs_capable_model(ctx.story):
        return (
            [],
            0,
            CheckRun(name="Fact ledger", ran=False, detail="needs a capable model", note=facts.CAPABLE_MODEL_NOTE),
        )
    reading = facts.extract(ctx.chapter)  # reads the chapter now if its text changed since the last reading
    pairs = facts.candidates(ctx.chapter, base, base + len(text))[: settings.CONTINUITY_CHECK_MAX_CALLS]
    findings = []
    for number, pair in enumerate(pairs, 1):
        ctx.progress(number - 1, len(pairs) + settings.CONTINUITY_CHECK_MAX_CALLS)
        earlier, new = pair.earlier, pair.new
        source = consistency.chapter_source(earlier.chapter)
        statement = consistency.Statement(earlier.quote or earlier.value, source, earlier.chapter_id)
        comparisons = consistency.judge(new.subject, statement, new.quote or new.value, story=ctx.story)
        if not any(c["contradiction"] for c in comparisons or []):
            continue
        key = fingerprint("fact", new.key, earlier.value, new.value)
        if key in ignored:
            continue
        aspect = f", {new.aspect}" if new.aspect else ""
        findings.append(
            Finding(
                check="fact",
                severity=settings.QA_CONTRADICTION_SEVERITY,
                message=(
                    f"{new.subject} ({new.get_attribute_display().lower()}{aspect}): {source} says “{earlier.value}”, "
                    f"this chapter says “{new.value}”, and no change is told in between."
                ),
                evidence=new.quote,
                offset=new.offset,
                length=len(new.quote),
                earlier=Earlier(text=earlier.quote or earlier.value, source=source, chapter=earlier.chapter_id),
                fingerprint=key,
            )
        )
    detail = (
        f"{reading.facts_found} fact(s) read from this chapter; {len(pairs)} fact(s) differ from the facts in force "
        f"before it, judged by {ctx.target.model}"
    )
    return findings, len(pairs), CheckRun(name="Fact ledger", detail=detail, note=reading.note)


def contradiction_findings(
    ctx: AgentContext, text: str, base: int, ignored, calls: int
) -> tuple[list[Finding], dict, CheckRun]:
    target = ctx.target
    if not target.profile.judges:  # asking costs a minute and finds nothing a writer can trust
        note = capable_model_note(target.profile)
        run = CheckRun(name="Facts and characters", ran=False, detail="needs a capable model", note=note)
        return *consistency.cannot_judge(target.profile), run
    note = ""
    findings, judging = consistency.contradictions(
        ctx.story, text, chapter=ctx.chapter, ignored=ignored, limit=max(calls, 0), progress=ctx.progress,
        base=base, batch=settings.CONTINUITY_CHECK_PAIRS_PER_CALL, within=True, said_by="this text",
    )  # fmt: skip
    judged = len(judging.get("judged", []))
    if judging.get("error"):
        run = CheckRun(name="Facts and characters", ran=False, detail="the model did not answer", note=judging["error"])
        return [f for f in findings if f.severity != "info"], judging, run
    detail = (
        f"{judged} passage(s) judged against the profiles, earlier chapters, their notes and the text before them, "
        f"in {judging.get('calls', 0)} call(s) to {target.model}"
    )
    return findings, judging, CheckRun(name="Facts and characters", detail=detail, note=note)


def check(ctx: AgentContext, message: AgentMessage) -> StepResult:
    """The continuity check of the writer's chapter or selection: findings with offsets into the chapter."""
    text, base, scope = checked_text(ctx)
    if not text.strip():
        empty = CheckRun(name="All checks", ran=False, detail="there is no text to check yet")
        return StepResult(QualityReport(checks=[empty], scope=scope))
    ignored = IgnoredFinding.objects.fingerprints(ctx.story)
    chapters = earlier_chapters(ctx.chapter)  # read once for the name and the rule checks
    names, names_run = name_drift_findings(ctx, text, base, ignored, chapters)
    looks, looks_run = rule_findings(ctx, text, base, chapters)
    grammar, grammar_report, grammar_run = grammar_findings(ctx, text, base)
    calls = settings.CONTINUITY_CHECK_MAX_CALLS
    try:
        ledger, used, ledger_run = ledger_findings(ctx, text, base, ignored)
        calls -= used
    except llm.LLMError as exc:
        ledger, ledger_run = (
            [],
            CheckRun(name="Fact ledger", ran=False, detail="the model did not answer", note=str(exc)),
        )
    try:
        claims, judging, claims_run = contradiction_findings(ctx, text, base, ignored, calls)
    except llm.LLMError as exc:
        claims, judging = [], {"error": str(exc)}
        claims_run = CheckRun(name="Facts and characters", ran=False, detail="the model did not answer", note=str(exc))
    looks, judged = merge_repeats(looks, ledger + claims, ignored)
    report = QualityReport.judge(
        names + looks + judged + grammar,
        checks=[names_run, looks_run, ledger_run, claims_run, grammar_run],
        scope=scope,
        consistency=judging,
        grammar=grammar_report,
    )
    return StepResult(report)
