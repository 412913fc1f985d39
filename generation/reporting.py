"""What a finished task reports: the draft to offer the writer, its quality report, and what it was written from."""

from dataclasses import dataclass

from agents.team.kinds import AgentType
from agents.team.messages import AgentMessage, ContextReport, Draft, QualityReport, Section, StoryContext


@dataclass
class Outcome:
    draft_key: str
    draft: Draft
    report: QualityReport | None  # None when the draft is not checked (brainstormed options)
    context: ContextReport


def final_draft_key(plan: list[AgentMessage]) -> str:
    """The draft the director accepted ("done" depends on it), else the first one."""
    done = next((m for m in plan if m.key == "done"), None)
    return done.dependencies[0] if done else "write"


def outcome(plan: list[AgentMessage], outputs: dict) -> Outcome:
    draft_key = final_draft_key(plan)
    draft = outputs.get(draft_key) or Draft()
    checks = [m.key for m in plan if m.agent == AgentType.QUALITY_ASSURANCE and m.key in outputs]
    context = outputs.get("context") or StoryContext()
    world, proposals = outputs.get("world"), outputs.get("world-proposals")
    report = ContextReport(
        # Each section's title, why and size; its text is in the prompt, not repeated here.
        sections=[Section(title=s.title, why=s.why, tokens=s.tokens) for s in context.sections],
        left_out=context.left_out,
        budget=context.budget,
        used=context.used,
        world=world.why if world else "",
        world_proposals=proposals.proposals if proposals else [],
        trimmed=draft.trimmed,
    )
    return Outcome(draft_key, draft, outputs[checks[-1]] if checks else None, report)
