"""Narrative writer: turns the assembled context into prose in the story's voice, streaming it as it writes."""

import re

import numpy as np

from agents.services import embeddings, llm
from agents.services.prompting import render
from agents.team.base import AgentContext
from agents.team.messages import AgentMessage, Draft, StepResult
from stories.models import count_words

POV = {
    "first": "first person (I)",
    "second": "second person (you)",
    "third_limited": "third person limited",
    "third_omniscient": "third person omniscient",
}
QUOTE_RE = re.compile(r"[\"“]([^\"”]{8,160})[\"”]")
TOKENS_PER_WORD = 1.4
HEADING_RE = re.compile(r"\A\s*(?:#+\s*)?(?:chapter\s+\w+[^\n]*)\n+", re.I)


VOICE_EXAMPLES = 3
LINES_SCANNED = 200  # the most recent lines of each character considered: bounded work on a long story


def spoken_lines(chapters: list[list[str]], name: str, others: list[str]) -> list[str]:
    """Lines in quotation marks from paragraphs that name this character and no one else of the cast, newest
    first. `chapters` holds each chapter's paragraphs, newest chapter and paragraph first."""
    lines = []
    for paragraphs in chapters:
        for paragraph in paragraphs:
            if name in paragraph and not any(other in paragraph for other in others):
                lines += reversed(QUOTE_RE.findall(paragraph))
        if len(lines) >= LINES_SCANNED:
            break
    return list(dict.fromkeys(lines))[:LINES_SCANNED]


def closest_lines(lines: list[str], query: str, k: int) -> list[str]:
    """The lines closest in meaning to what is being written, so the examples fit the scene."""
    if len(lines) <= k or not query.strip():
        return lines[:k]
    vectors = np.stack(embeddings.embed_many(lines))
    order = np.argsort(-(vectors @ embeddings.embed(query)))[:k]
    return [lines[i] for i in order]


def voices(ctx: AgentContext) -> list[dict]:
    """Each cast member's speech pattern, with a few lines they said in earlier chapters, picked by how close they
    are in meaning to the request (the note, the selection, or the text before the cursor)."""
    cast = ctx.story.cast.select_related("character").order_by("-importance")
    names = [m.character.name for m in cast]
    chapters = [
        list(reversed(chapter.content.split("\n")))
        for chapter in (ctx.story.chapters.only("content").order_by("-order") if names else [])
    ]
    selection = ctx.request.selection.text if ctx.request.selection else ""
    query = ctx.request.note or selection or ctx.request.before_cursor
    result = []
    for member in cast:
        character = member.character
        lines = spoken_lines(chapters, character.name, [n for n in names if n != character.name])
        examples = closest_lines(lines, query, VOICE_EXAMPLES)
        if character.speech_pattern.strip() or examples:
            result.append({"name": character.name, "speech": character.speech_pattern.strip(), "examples": examples})
    return result


def build_messages(ctx: AgentContext, message: AgentMessage) -> list[dict]:
    story, settings = ctx.story, ctx.story.settings
    request = ctx.request
    story_context, world = message.context.get("context"), message.context.get("world")
    content = ctx.chapter.content if ctx.chapter else ""
    cursor = request.cursor_in(content)
    system = render(
        "narrative_system",
        title=story.title,
        genre=story.genre,
        pov=POV[settings.pov],
        tense=settings.tense,
        tone=settings.tone,
        voices=voices(ctx),
    )
    user = render(
        "narrative_user",
        context_sections=story_context.sections if story_context else [],
        world=world.entries if world else [],
        missing=world.missing if world else [],
        mode=ctx.mode,
        chapter_title=request.chapter_title or (ctx.chapter.title if ctx.chapter else ""),
        target_words=message.payload.get("target_words", settings.target_words),
        before_cursor=content[max(0, cursor - 1500) : cursor],
        selection=request.selected_in(content),
        characters=request.characters,
        note=request.note,
        feedback=message.payload.get("feedback", []),
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def clean(text: str) -> str:
    """The prose only: no leading chapter heading the model may add, no trailing whitespace."""
    return HEADING_RE.sub("", text).strip()


CONTINUE_NOTE = "Go on: continue the chapter from where it stops, in the same voice, without repeating anything."
MAX_CONTINUATIONS = 2
SHORT_SHARE = 0.5  # of the words asked for: a draft this short that the model ended on its own is asked to go on


def write(ctx: AgentContext, message: AgentMessage) -> StepResult:
    """The draft, streamed to the writer. A model that cannot be sent back to rewrite (the built-in one) and
    stops well short of the length asked for is asked to go on, at most twice: a 50-word "chapter" is no draft."""
    messages = build_messages(ctx, message)
    target_words, max_tokens = message.payload.get("target_words") or 0, message.payload["max_tokens"]
    text, calls = "", []
    while True:
        stream = llm.stream(
            messages,
            model=message.payload.get("model"),  # the fallback model, when the usual one failed
            story=ctx.story,
            temperature=message.payload.get("temperature", 0.8),
            max_tokens=max_tokens,
            should_cancel=ctx.should_cancel,
            prose=True,
        )
        if text:
            ctx.emit("\n\n")
        for token in stream:
            ctx.emit(token)
        calls.append(stream.result)
        more = clean(stream.result.text)
        text = f"{text}\n\n{more}".strip() if more else text
        stopped_early = stream.result.completion_tokens < 0.9 * max_tokens and more
        if (
            stream.target.profile.rewrites or stream.result.cancelled or not stopped_early
            or count_words(text) >= SHORT_SHARE * target_words or len(calls) > MAX_CONTINUATIONS
        ):  # fmt: skip
            break
        messages = [*messages[:2], {"role": "assistant", "content": text}, {"role": "user", "content": CONTINUE_NOTE}]
        max_tokens = max(64, max_tokens - sum(c.completion_tokens for c in calls))
    result = calls[-1]
    draft = Draft(
        text=text, words=count_words(text), trimmed=[t for c in calls for t in c.trimmed],
        cancelled=result.cancelled, endpoint=result.endpoint or "",
    )  # fmt: skip
    return StepResult(
        draft,
        model=result.model,
        prompt_tokens=sum(c.prompt_tokens for c in calls),
        completion_tokens=sum(c.completion_tokens for c in calls),
    )
