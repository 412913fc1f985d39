"""Creative director: reads the writer's request, plans the work as a graph of agent steps, gates the draft's
quality, and sends it back with the critique when it fails (up to MAX_REWRITES times). Each decision carries
its reason, recorded with the step, so the writer can see why the team did what it did."""

from stories.models import count_words

from . import (
    continuation_context,
    continuity_check,
    narrative_intelligence,
    quality_assurance,
    visual_storytelling,
    world_building,
)
from .base import AgentContext
from .kinds import AgentType, Mode
from .messages import (
    AgentMessage,
    Draft,
    GateDecision,
    Illustration,
    Output,
    QualityReport,
    StoryContext,
    WorldContext,
    WorldProposals,
)

MAX_REWRITES = 2
PROMPT_RESERVE_TOKENS = 700  # system prompt, instructions and the author's note, on top of the context sections
DIRECTOR, WORLD, CONTEXT, WRITER, QA, VISUAL = (
    AgentType.CREATIVE_DIRECTOR, AgentType.WORLD_BUILDING, AgentType.CONTINUATION_CONTEXT,
    AgentType.NARRATIVE_INTELLIGENCE, AgentType.QUALITY_ASSURANCE, AgentType.VISUAL_STORYTELLING,
)  # fmt: skip

# Which function carries out each (agent, task type), and the type of what it returns: the plan names them, the
# pipeline calls them and reads their stored outputs back.
AGENTS = {
    (WORLD, "retrieve_world"): (world_building.retrieve, WorldContext),
    (WORLD, "propose_world"): (world_building.propose, WorldProposals),
    (CONTEXT, "assemble_context"): (continuation_context.assemble, StoryContext),
    (WRITER, "write"): (narrative_intelligence.write, Draft),
    (QA, "check"): (quality_assurance.check, QualityReport),
    (QA, "check_chapter"): (continuity_check.check, QualityReport),
    (VISUAL, "illustrate"): (visual_storytelling.illustrate, Illustration),
    (VISUAL, "portrait"): (visual_storytelling.portrait, Illustration),
}


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


def run(ctx: AgentContext, message: AgentMessage):
    """Carry out one step of the plan."""
    function, _ = AGENTS[(message.agent, message.task_type)]
    return function(ctx, message)


def read_output(message: AgentMessage, stored: dict) -> Output:
    """A step's output as stored (JSON), as the type its agent returns."""
    _, model = AGENTS[(message.agent, message.task_type)]
    return model.model_validate(stored)


def target_words(ctx: AgentContext) -> int:
    mode, story_target = ctx.mode, ctx.story.settings.target_words
    if mode == Mode.REWRITE:
        selection = ctx.request.get("selection") or {}
        text = ctx.chapter.content[selection.get("start", 0) : selection.get("end", 0)] if ctx.chapter else ""
        return max(count_words(text), 30)
    if mode == Mode.BRAINSTORM:
        return 300
    if mode in (Mode.CONTINUE, Mode.DIALOGUE):
        return max(100, story_target // 3)
    return story_target


def plan(ctx: AgentContext) -> tuple[list[AgentMessage], str]:
    """The steps for this request and the reason for the plan as a whole."""
    if ctx.mode in ONE_STEP:
        key, agent, task_type, reason, why = ONE_STEP[ctx.mode]
        return [AgentMessage(key, agent, task_type, {}, reason=reason)], why
    window = ctx.target.provider.context_window(ctx.target.model)
    words = target_words(ctx)
    # Leave at least half the window for the prompt; a long chapter is written in one go up to that limit.
    max_tokens = min(int(words * 1.4) + 64, window // 2)
    budget = max(window - max_tokens - PROMPT_RESERVE_TOKENS, 200)
    selection = ctx.request.get("selection") or {}
    selected = ctx.chapter.content[selection.get("start", 0) : selection.get("end", 0)] if ctx.chapter else ""
    query = ctx.request.get("note") or selected or ""
    steps = [
        AgentMessage(
            "world", WORLD, "retrieve_world", {"query": query}, priority=1,
            reason="Find the places, lore and things this part of the story is likely to touch.",
        ),
        AgentMessage(
            "context", CONTEXT, "assemble_context", {"budget": budget, "query": query}, priority=2,
            reason=f"Gather what must be remembered (recent text, threads, cast) within {budget} tokens.",
        ),
        AgentMessage(
            "write", WRITER, "write",
            {"max_tokens": max_tokens, "target_words": words, "temperature": 0.8},
            dependencies=["world", "context"],
            reason=f"Write about {words} words in the story's voice from the gathered context.",
        ),
    ]  # fmt: skip
    if ctx.mode != Mode.BRAINSTORM:
        steps += check_steps("write", "check", words)
    why = f"{ctx.mode_label}: world and context in parallel, then the writer"
    why += ", then a quality check" if ctx.mode != Mode.BRAINSTORM else " (options are not checked as prose)"
    return steps, why + "."


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


def gate(report: QualityReport, rewrites_done: int) -> GateDecision:
    """Decide what to do with a checked draft: accept it, accept it with warnings, or rewrite it."""
    problems = report.problems()
    if report.verdict == "pass":
        return GateDecision(action="accept", reason="The draft passed every check.")
    if report.verdict == "warn":
        return GateDecision(action="accept", reason="The draft passed with warnings for the writer.", feedback=problems)
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
