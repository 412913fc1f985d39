"""The one shape of a message between agents. A plan is a list of these, so the graph is data to show and test."""

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class AgentMessage:
    key: str  # the step's name in the plan ("world", "write", "write-retry-1", ...)
    agent: str  # AgentType value of the agent that acts on it
    task_type: str  # what the agent is asked to do ("retrieve_world", "write", "check", ...)
    payload: dict[str, Any] = field(default_factory=dict)  # inputs for this step
    context: dict[str, Any] = field(default_factory=dict)  # what earlier steps produced, filled in at run time
    priority: int = 0  # among ready steps, higher runs first
    dependencies: list[str] = field(default_factory=list)  # keys that must succeed first
    reason: str = ""  # why the director planned this step

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("context")
        return data


@dataclass
class StepResult:
    output: dict[str, Any]
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0


def ready(plan: list[AgentMessage], done: set[str], started: set[str]) -> list[AgentMessage]:
    """Steps whose dependencies have all succeeded and that have not started, highest priority first."""
    waiting = [m for m in plan if m.key not in done and m.key not in started]
    return sorted((m for m in waiting if set(m.dependencies) <= done), key=lambda m: -m.priority)
