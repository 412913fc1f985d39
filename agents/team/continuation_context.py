"""Continuation context agent: what the writer (and the model) must remember to continue the story.

It fills a token budget in order of importance: the premise, open plot threads (most important first), the cast and
their latest states, the relationships among the characters in play and earlier scenes between them, the most
recent text (a sliding window of chapters), retrieved passages from further back, then summaries of older chapters.
Every section says why it is there; whatever did not fit is listed as left out.
"""

from dataclasses import dataclass, replace

from agents.discovery import scenes
from agents.memory import store as memory
from agents.models import MemoryItem, MemoryKind
from agents.team.base import AgentContext
from agents.team.kinds import Mode
from agents.team.messages import AgentMessage, LeftOut, Section, StepResult, StoryContext
from characters.models import CharacterRelationship
from stories.models import Chapter

WINDOW_CHAPTERS = 2
RETRIEVED_PASSAGES = 6


def chapters_before(ctx: AgentContext) -> list[Chapter]:
    """Chapters that come before the text being written, oldest first."""
    chapters = ctx.story.chapters.all()
    if ctx.chapter is not None and ctx.mode != Mode.NEXT_CHAPTER:
        chapters = chapters.filter(order__lt=ctx.chapter.order)
    elif ctx.chapter is not None:
        chapters = chapters.filter(order__lte=ctx.chapter.order)
    return list(chapters)


def _fit(ctx, text: str, tokens: int, keep_end: bool) -> str:
    """Cut text to about `tokens` tokens at a paragraph or sentence boundary, keeping its start or its end."""
    if ctx.count_tokens(text) <= tokens:
        return text
    ratio = tokens / max(ctx.count_tokens(text), 1)
    cut = int(len(text) * ratio * 0.95)
    piece = text[-cut:] if keep_end else text[:cut]
    boundary = piece.find("\n\n") if keep_end else piece.rfind("\n\n")
    if boundary == -1:
        boundary = piece.find(". ") + 1 if keep_end else piece.rfind(". ") + 1
    if boundary > 0:
        piece = piece[boundary:] if keep_end else piece[:boundary]
    return ("… " + piece.strip()) if keep_end else (piece.strip() + " …")


@dataclass
class Candidate:
    """A section the context could hold. `flex` ones may be cut to fit (keeping their end if `keep_end`), the others
    are all or nothing; `max_share` caps a section's part of the budget."""

    title: str
    text: str
    why: str
    flex: bool = False
    max_share: float | None = None
    keep_end: bool = False


def window(previous: list[Chapter]) -> list[Chapter]:
    """The most recent chapters, given whole (or their end) rather than summarised."""
    return previous[-WINDOW_CHAPTERS:]


def premise(ctx: AgentContext, previous, query) -> list[Candidate]:
    return [Candidate("Premise", ctx.story.premise, "the story's premise")] if ctx.story.premise else []


def open_threads(ctx: AgentContext, previous, query) -> list[Candidate]:
    threads = [
        (thread.get("importance", 5), chapter.order, thread)
        for chapter in previous
        for thread in chapter.continuation_context.get("threads", [])
        if thread.get("status", "open") == "open"
    ]
    threads.sort(key=lambda t: (-t[0], -t[1]))
    if not threads:
        return []
    lines = [f"- {t['summary']} (importance {importance})" for importance, _, t in threads]
    return [Candidate("Open plot threads", "\n".join(lines), "unresolved, most important first")]


def characters(ctx: AgentContext, previous, query) -> list[Candidate]:
    states = {}
    for chapter in previous:  # later chapters overwrite earlier states
        states.update(chapter.continuation_context.get("character_states", {}))
    lines = []
    for member in ctx.story.cast.select_related("character").order_by("-importance"):
        c = member.character
        traits = "; ".join(v.strip() for v in (c.appearance, c.personality, c.goals) if v.strip())
        line = f"- {c.name} ({member.get_role_display().lower()}): {traits}"
        if state := states.get(c.name):
            line += f" Now: {state}"
        lines.append(line)
    return [Candidate("Characters", "\n".join(lines), "the cast, by importance", flex=True)] if lines else []


def in_play(ctx: AgentContext, previous, query, names: list[str]) -> set[str]:
    """The cast members this part of the story is about: those the writer chose, or named in the note, the
    selection or the most recent text."""
    chosen = set(ctx.request.characters)
    recent = " ".join([query or "", *(c.content[-3000:] for c in window(previous))])
    return chosen | {name for name in names if name and name in recent}


def related_in_play(ctx: AgentContext, previous, query) -> list[tuple[str, str, CharacterRelationship]]:
    """(source name, target name, relationship) for each relationship between two characters in play, strongest
    first."""
    cast = {m.character_id: m.character.name for m in ctx.story.cast.select_related("character")}
    playing = in_play(ctx, previous, query, list(cast.values()))
    if len(playing) < 2:
        return []
    rows = CharacterRelationship.objects.filter(source_id__in=cast, target_id__in=cast).order_by("-strength")
    return [
        (cast[r.source_id], cast[r.target_id], r)
        for r in rows
        if cast[r.source_id] in playing and cast[r.target_id] in playing
    ]


def relationships(ctx: AgentContext, previous, query) -> list[Candidate]:
    """How the characters in play stand with each other (type, strength, the writer's description) and the latest
    change the chapters told."""
    related = related_in_play(ctx, previous, query)
    if not related:
        return []
    changes = {}
    for chapter in previous:  # later chapters overwrite earlier changes
        for change in chapter.continuation_context.get("relationships", []):
            if change.get("change"):
                changes[frozenset((change.get("source"), change.get("target")))] = (chapter.title, change["change"])
    lines = []
    for source, target, r in related:
        line = f"- {source} → {target}: {r.get_kind_display().lower()}, strength {r.strength}/10"
        line += f". {r.description.strip()}" if r.description.strip() else ""
        if latest := changes.get(frozenset((source, target))):
            line += f" Latest change (in “{latest[0]}”): {latest[1]}"
        lines.append(line)
    why = "how the characters in play stand with each other, strongest first"
    return [Candidate("Relationships", "\n".join(lines), why, flex=True, max_share=0.15)]


SHARED_SCENES = 3


def shared_history(ctx: AgentContext, previous, query) -> list[Candidate]:
    """For each pair of characters in play who have a relationship, the earlier scenes (before the recent
    chapters) where both appear, closest to the request first: how they have met before."""
    pairs = {tuple(sorted((source, target))) for source, target, _ in related_in_play(ctx, previous, query)}
    earlier = {c.pk for c in previous} - {c.pk for c in window(previous)}
    sections = []
    for a, b in sorted(pairs):
        found = scenes.find(ctx.story.owner, text=query or "", names=[a, b], story=ctx.story, k=SHARED_SCENES * 3)
        found = [item for item in found if item.chapter_id in earlier][:SHARED_SCENES]
        if found:
            text = "\n\n".join(f"[{item.chapter.title}] {item.text}" for item in found)
            why = f"earlier scenes where {a} and {b} appear together"
            sections.append(Candidate(f"{a} and {b} before", text, why, flex=True, max_share=0.1))
    return sections


def recent_text(ctx: AgentContext, previous, query) -> list[Candidate]:
    return [
        Candidate(
            f"Recent text: {chapter.title}",
            chapter.content,
            "sliding window of the most recent chapters",
            flex=True,
            max_share=0.6,
            keep_end=True,
        )  # fmt: skip
        for chapter in reversed(window(previous))
        if chapter.content.strip()
    ]


def retrieved_passages(ctx: AgentContext, previous, query) -> list[Candidate]:
    if not query:
        return []
    in_window = {c.pk for c in window(previous)}
    kinds = [MemoryKind.PASSAGE, MemoryKind.PLOT_POINT]
    found = memory.search(ctx.story.owner, query, story=ctx.story, kinds=kinds, k=RETRIEVED_PASSAGES * 2)
    passages = [item for item in found if item.chapter_id not in in_window][:RETRIEVED_PASSAGES]
    if not passages:
        return []
    text = "\n\n".join(
        f"[{item.chapter.title if item.chapter else item.get_kind_display()}] {item.text}" for item in passages
    )
    why = f"retrieved from memory for: {query[:100]}"
    return [Candidate("Earlier passages", text, why, flex=True, max_share=0.3)]


STYLE_EXAMPLES = 3


def liked_style(ctx: AgentContext, previous, query) -> list[Candidate]:
    """Passages of earlier drafts the writer rated 4 or 5 in this story, best and newest first (they can switch
    this off in the story's settings)."""
    if not ctx.story.settings.learn_from_ratings:
        return []
    items = MemoryItem.objects.filter(story=ctx.story, kind=MemoryKind.STYLE).order_by("-metadata__rating", "-pk")
    examples = [item.text for item in items[:STYLE_EXAMPLES]]
    if not examples:
        return []
    text = "\n\n".join(f"[example {i}] {example}" for i, example in enumerate(examples, 1))
    why = "drafts the writer rated highly: the style they like (not events to repeat)"
    return [Candidate("Style the writer liked", text, why, flex=True, max_share=0.15)]


def older_summaries(ctx: AgentContext, previous, query) -> list[Candidate]:
    in_window = {c.pk for c in window(previous)}
    older = [c for c in previous if c.pk not in in_window and c.continuation_context.get("summary")]
    if not older:
        return []
    text = "\n".join(f"- {c.title}: {c.continuation_context['summary']}" for c in older)
    return [Candidate("Earlier chapters", text, "summaries beyond the window", flex=True)]


# In priority order: what comes first gets its room first.
BUILDERS = [
    premise, open_threads, characters, relationships, shared_history, recent_text, retrieved_passages, liked_style,
    older_summaries,
]  # fmt: skip


def candidate_sections(ctx: AgentContext, previous: list[Chapter], query: str) -> list[Candidate]:
    return [candidate for build in BUILDERS for candidate in build(ctx, previous, query)]


def assemble(ctx: AgentContext, message: AgentMessage) -> StepResult:
    budget = message.payload["budget"]
    if message.payload.get("characters"):  # the director read them in the note: they are in play too
        chosen = list(dict.fromkeys([*ctx.request.characters, *message.payload["characters"]]))
        ctx = replace(ctx, request=ctx.request.model_copy(update={"characters": chosen}))
    previous = chapters_before(ctx)
    query = message.payload.get("query") or (previous[-1].content[-600:] if previous else ctx.story.premise)
    included, left_out, used = [], [], 0
    for section in candidate_sections(ctx, previous, query):
        tokens = ctx.count_tokens(section.text) + 8
        room = budget - used
        if section.max_share is not None:
            room = min(room, int(budget * section.max_share))
        if tokens > room and section.flex and room > 80:
            section.text = _fit(ctx, section.text, room - 8, section.keep_end)
            section.why += " (cut to fit)"
            tokens = ctx.count_tokens(section.text) + 8
        if tokens > room:
            left_out.append(LeftOut(title=section.title, tokens=tokens, why="did not fit the budget"))
            continue
        used += tokens
        included.append(Section(title=section.title, text=section.text, why=section.why, tokens=tokens))
    return StepResult(StoryContext(sections=included, left_out=left_out, budget=budget, used=used, query=query))
