"""The team's registry: which agent carries out each step of a plan, the type of what it returns, what a step may
be tried on instead when its model failed, and what the draft goes without when a step cannot run. The creative
director plans and judges; the pipeline asks this module to run the steps."""

from dataclasses import replace

from django.conf import settings

from agents.checks import continuity_check
from agents.services import llm
from agents.team import (
    continuation_context,
    narrative_intelligence,
    quality_assurance,
    visual_storytelling,
    world_building,
)
from agents.team.base import AgentContext
from agents.team.kinds import AgentType
from agents.team.messages import (
    AgentMessage,
    Draft,
    Finding,
    Illustration,
    LeftOut,
    Output,
    QualityReport,
    StepResult,
    StoryContext,
    WorldContext,
    WorldProposals,
)

WORLD, CONTEXT, WRITER, QA, VISUAL = (
    AgentType.WORLD_BUILDING, AgentType.CONTINUATION_CONTEXT, AgentType.NARRATIVE_INTELLIGENCE,
    AgentType.QUALITY_ASSURANCE, AgentType.VISUAL_STORYTELLING,
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


def run(ctx: AgentContext, message: AgentMessage):
    """Carry out one step of the plan."""
    function, _ = AGENTS[(message.agent, message.task_type)]
    return function(ctx, message)


def alternative(ctx: AgentContext, message: AgentMessage) -> AgentMessage | None:
    """The writer's step again on LLM_FALLBACK_MODEL, when the model that failed was another one."""
    fallback = settings.LLM_FALLBACK_MODEL
    if message.agent != WRITER or not fallback or llm.resolve(model=fallback).model == ctx.target.model:
        return None
    return replace(message, payload={**message.payload, "model": fallback})


# What a step that could not run gives instead, and what the draft then lacks.
DEGRADED = {
    (WORLD, "retrieve_world"): "the story's world entries (written without them)",
    (WORLD, "propose_world"): "proposals of new places and things",
    (CONTEXT, "assemble_context"): "the story so far (written from the request and the story's settings alone)",
    (QA, "check"): "the quality check (the draft is unchecked)",
}


def what_is_skipped(message: AgentMessage) -> str:
    return DEGRADED[(message.agent, message.task_type)]


def degraded(message: AgentMessage, error: Exception) -> StepResult | None:
    """A step's output when it failed twice and the draft can go on without it; None when it cannot."""
    key = (message.agent, message.task_type)
    if key not in DEGRADED:
        return None
    if key == (QA, "check"):
        finding = Finding(
            check="quality", severity="warn", message=f"The quality check could not run ({error}); read it yourself."
        )
        return StepResult(QualityReport.judge([finding]))
    if key == (CONTEXT, "assemble_context"):
        left_out = [LeftOut(title="The story so far", tokens=0, why=f"not gathered: {error}")]
        return StepResult(StoryContext(left_out=left_out, budget=message.payload.get("budget"), query=""))
    if key == (WORLD, "retrieve_world"):
        return StepResult(WorldContext(why=f"world building failed ({error})"))
    return StepResult(WorldProposals())


def read_output(message: AgentMessage, stored: dict) -> Output:
    """A step's output as stored (JSON), as the type its agent returns."""
    _, model = AGENTS[(message.agent, message.task_type)]
    return model.model_validate(stored)
