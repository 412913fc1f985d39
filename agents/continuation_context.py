"""Continuation context agent: what the writer (and the model) must remember to continue the story.

It fills a token budget in order of importance: the premise, open plot threads (most important first), the cast and
their latest states, the most recent text (a sliding window of chapters), retrieved passages from further back,
then summaries of older chapters. Every section says why it is there; whatever did not fit is listed as left out.
"""

from stories.models import Chapter

from . import memory
from .base import AgentContext
from .kinds import Mode
from .messages import AgentMessage, LeftOut, Section, StepResult, StoryContext
from .models import MemoryKind

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


def candidate_sections(ctx: AgentContext, previous: list[Chapter], query: str) -> list[dict]:
    """Sections in priority order; `flex` ones may be cut to fit, the others are all or nothing."""
    sections = []
    story = ctx.story
    if story.premise:
        sections.append({"title": "Premise", "text": story.premise, "why": "the story's premise"})

    threads = []
    for chapter in previous:
        for thread in chapter.continuation_context.get("threads", []):
            if thread.get("status", "open") == "open":
                threads.append((thread.get("importance", 5), chapter.order, thread))
    threads.sort(key=lambda t: (-t[0], -t[1]))
    if threads:
        lines = [f"- {t['summary']} (importance {importance})" for importance, _, t in threads]
        sections.append(
            {"title": "Open plot threads", "text": "\n".join(lines), "why": "unresolved, most important first"}
        )

    states = {}
    for chapter in previous:  # later chapters overwrite earlier states
        states.update(chapter.continuation_context.get("character_states", {}))
    cast = list(story.cast.select_related("character").order_by("-importance"))
    if cast:
        lines = []
        for member in cast:
            c = member.character
            traits = "; ".join(v.strip() for v in (c.appearance, c.personality, c.goals) if v.strip())
            line = f"- {c.name} ({member.get_role_display().lower()}): {traits}"
            if state := states.get(c.name):
                line += f" Now: {state}"
            lines.append(line)
        sections.append(
            {"title": "Characters", "text": "\n".join(lines), "why": "the cast, by importance", "flex": True}
        )

    window = previous[-WINDOW_CHAPTERS:]
    for chapter in reversed(window):
        if chapter.content.strip():
            sections.append(
                {
                    "title": f"Recent text: {chapter.title}",
                    "text": chapter.content,
                    "why": "sliding window of the most recent chapters",
                    "max_share": 0.6,
                    "flex": True,
                    "keep_end": True,
                    "order": chapter.order,
                }
            )

    window_ids = {c.pk for c in window}
    if query:
        found = memory.search(
            story.owner, query, story=story, kinds=[MemoryKind.PASSAGE, MemoryKind.PLOT_POINT], k=RETRIEVED_PASSAGES * 2
        )
        passages = [item for item in found if item.chapter_id not in window_ids][:RETRIEVED_PASSAGES]
        if passages:
            text = "\n\n".join(
                f"[{item.chapter.title if item.chapter else item.get_kind_display()}] {item.text}" for item in passages
            )
            sections.append(
                {
                    "title": "Earlier passages",
                    "text": text,
                    "why": f"retrieved from memory for: {query[:100]}",
                    "flex": True,
                    "max_share": 0.3,
                }
            )

    older = [c for c in previous if c.pk not in window_ids and c.continuation_context.get("summary")]
    if older:
        text = "\n".join(f"- {c.title}: {c.continuation_context['summary']}" for c in older)
        sections.append({"title": "Earlier chapters", "text": text, "why": "summaries beyond the window", "flex": True})
    return sections


def assemble(ctx: AgentContext, message: AgentMessage) -> StepResult:
    budget = message.payload["budget"]
    previous = chapters_before(ctx)
    query = message.payload.get("query") or (previous[-1].content[-600:] if previous else ctx.story.premise)
    included, left_out, used = [], [], 0
    for section in candidate_sections(ctx, previous, query):
        tokens = ctx.count_tokens(section["text"]) + 8
        room = budget - used
        if "max_share" in section:
            room = min(room, int(budget * section["max_share"]))
        if tokens > room and section.get("flex") and room > 80:
            section["text"] = _fit(ctx, section["text"], room - 8, section.get("keep_end", False))
            section["why"] += " (cut to fit)"
            tokens = ctx.count_tokens(section["text"]) + 8
        if tokens > room:
            left_out.append(LeftOut(title=section["title"], tokens=tokens, why="did not fit the budget"))
            continue
        used += tokens
        included.append(Section(title=section["title"], text=section["text"], why=section["why"], tokens=tokens))
    return StepResult(StoryContext(sections=included, left_out=left_out, budget=budget, used=used, query=query))
