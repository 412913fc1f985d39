"""Creative director: reads the writer's request, plans the work as a graph of agent steps, gates the draft's
quality, and sends it back with the critique when it fails (up to MAX_REWRITES times). Each decision carries
its reason, recorded with the step, so the writer can see why the team did what it did."""

from dataclasses import dataclass

from agents.services import capabilities, llm
from agents.team import intent as intent_reader
from agents.team.base import AgentContext
from agents.team.kinds import AgentType, Mode
from agents.team.messages import (
    AgentMessage,
    GateDecision,
    Intent,
    QualityReport,
)
from stories.models import count_words

MAX_REWRITES = 2
PROMPT_RESERVE_TOKENS = 700  # system prompt, instructions and the author's note, on top of the context sections
DIRECTOR, WORLD, CONTEXT, WRITER, QA, VISUAL = (
    AgentType.CREATIVE_DIRECTOR, AgentType.WORLD_BUILDING, AgentType.CONTINUATION_CONTEXT,
    AgentType.NARRATIVE_INTELLIGENCE, AgentType.QUALITY_ASSURANCE, AgentType.VISUAL_STORYTELLING,
)  # fmt: skip

# Requests that are one step, not a draft: (key, agent, task type, why the step, why the plan).
ONE_STEP = {
    Mode.CHECK: (
        "check", QA, "check_chapter",
        "Check the writer's text against the profiles, the earlier chapters and their notes.",
        "Check continuity: name spellings, facts and characters, grammar; nothing is written.",
    ),
    Mode.PORTRAIT: (
        "portrait", VISUAL, "portrait",
        "Draw the character from their profile and the ledger, with their own seed.",
        "Draw a portrait: the character's appearance in the story's picture style.",
    ),
    Mode.ILLUSTRATE: (
        "illustrate", VISUAL, "illustrate",
        "Find the chapter's most striking moment and who is in it, as they look at this point.",
        "Illustrate the chapter: one scene, the people in it as the story describes them.",
    ),
}  # fmt: skip


def target_words(ctx: AgentContext) -> int:
    mode, story_target = ctx.mode, ctx.story.settings.target_words
    if mode == Mode.REWRITE:
        text = ctx.request.selected_in(ctx.chapter.content) if ctx.chapter else ""
        return max(count_words(text), 30)
    if mode == Mode.BRAINSTORM:
        return 300
    if mode in (Mode.CONTINUE, Mode.DIALOGUE):
        return max(100, story_target // 3)
    return story_target


@dataclass
class Planned:
    steps: list[AgentMessage]
    why: str
    intent: Intent | None = None  # what the director read in the note, when it could
    call: llm.LLMResult | None = None  # the model call that read it
    limits: str = ""  # what the model's profile leaves out (capabilities.Profile.limits)


def plan(ctx: AgentContext) -> Planned:
    """The steps for this request and the reason for the plan as a whole. A writing request's note is read into
    an Intent (length, who it is about, what to look up, whether world and checks matter); without one, the
    usual plan for the mode."""
    if ctx.mode in ONE_STEP:
        key, agent, task_type, reason, why = ONE_STEP[ctx.mode]
        return Planned([AgentMessage(key, agent, task_type, {}, reason=reason)], why)
    default_words = target_words(ctx)
    read, understood, call = intent_reader.interpret(ctx, default_words)
    intent = read or Intent()
    words = default_words if ctx.mode == Mode.REWRITE else (intent.target_words or default_words)
    if ctx.target.profile.draft_words and ctx.mode != Mode.REWRITE:  # a rewrite keeps the selection's length
        words = min(words, ctx.target.profile.draft_words)
    window = ctx.target.provider.context_window(ctx.target.model)
    # Leave at least half the window for the prompt; a long chapter is written in one go up to that limit.
    max_tokens = min(int(words * 1.4) + 64, window // 2)
    budget = max(window - max_tokens - PROMPT_RESERVE_TOKENS, 200)
    selected = ctx.request.selected_in(ctx.chapter.content) if ctx.chapter else ""
    query = intent.retrieve or ctx.request.note or selected or ""
    cast = f"cast, above all {', '.join(intent.characters)}" if intent.characters else "cast"
    steps = [
        AgentMessage(
            "context", CONTEXT, "assemble_context",
            {"budget": budget, "query": query, "characters": intent.characters}, priority=2,
            reason=f"Gather what must be remembered (recent text, threads, {cast}) within {budget} tokens.",
        ),
        AgentMessage(
            "write", WRITER, "write",
            {"max_tokens": max_tokens, "target_words": words, "temperature": 0.8},
            dependencies=["world", "context"] if intent.world else ["context"],
            reason=f"Write about {words} words in the story's voice from the gathered context.",
        ),
    ]  # fmt: skip
    if intent.world:
        steps.insert(0, AgentMessage(
            "world", WORLD, "retrieve_world", {"query": query}, priority=1,
            reason="Find the places, lore and things this part of the story is likely to touch.",
        ))  # fmt: skip
    checked = ctx.mode != Mode.BRAINSTORM and intent.check
    if checked:
        steps += check_steps("write", "check", words)
    why = f"{ctx.mode_label}: " + ("world and context in parallel" if intent.world else "context (no world entries)")
    why += ", then the writer"
    if ctx.mode == Mode.BRAINSTORM:
        why += " (options are not checked as prose)"
    elif checked:
        why += ", then a quality check"
    else:
        why += " (the writer asked for no check)"
    if limits := ctx.target.profile.limits():
        why += f". {limits}"
    how = f"Read the note: {understood}" if read else f"The usual plan: {understood}"
    return Planned(steps, f"{why}. {how}.".replace("..", "."), read, call, limits)


def follow_up(ctx: AgentContext, draft_key: str) -> list[AgentMessage]:
    """Steps that work on the accepted draft."""
    steps = [
        AgentMessage(
            "world-proposals", WORLD, "propose_world", {"draft": draft_key}, dependencies=[draft_key],
            reason="Spot new places and things the draft introduces, for the writer to accept or reject.",
        )
    ]  # fmt: skip
    return steps


def check_steps(draft_key: str, check_key: str, words: int) -> list[AgentMessage]:
    return [
        AgentMessage(
            check_key, QA, "check", {"draft": draft_key, "target_words": words}, dependencies=[draft_key],
            reason="Check the draft before the writer sees it.",
        )
    ]  # fmt: skip


def gate(
    report: QualityReport, rewrites_done: int, profile: capabilities.Profile = capabilities.CAPABLE
) -> GateDecision:
    """Decide what to do with a checked draft: accept it, accept it with warnings, or rewrite it (never with a model
    that cannot rewrite to a critique: it would only cost the writer minutes for the same draft)."""
    problems = report.problems()
    if report.verdict == "pass":
        return GateDecision(action="accept", reason="The draft passed every check.")
    if report.verdict == "warn":
        return GateDecision(action="accept", reason="The draft passed with warnings for the writer.", feedback=problems)
    if not profile.rewrites:
        reason = f"{profile.who.capitalize()} cannot rewrite a draft to a critique: the writer decides, with the "
        reason += "findings shown."
        return GateDecision(action="accept", reason=reason, feedback=problems)
    if rewrites_done < MAX_REWRITES:
        reason = f"The draft failed the gate: rewrite {rewrites_done + 1} of {MAX_REWRITES}, with the critique."
        return GateDecision(action="retry", reason=reason, feedback=problems)
    reason = f"Still failing after {MAX_REWRITES} rewrites; the writer decides, with the findings shown."
    return GateDecision(action="accept", reason=reason, feedback=problems)


def retry_steps(previous_write: AgentMessage, rewrite: int, feedback: list[str]) -> list[AgentMessage]:
    write_key, check_key = f"write-retry-{rewrite}", f"check-retry-{rewrite}"
    payload = {**previous_write.payload, "feedback": feedback}
    return [
        AgentMessage(
            write_key, WRITER, "write", payload, dependencies=list(previous_write.dependencies),
            reason=f"Rewrite {rewrite}: fix " + "; ".join(feedback)[:300],
        ),
        *check_steps(write_key, check_key, payload["target_words"]),
    ]  # fmt: skip
