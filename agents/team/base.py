"""What every agent receives: the request (a TaskRequest), its story and chapter, and ways to stream text and to
notice cancellation. Agents never see the task row that the generation app keeps."""

from collections.abc import Callable
from dataclasses import dataclass, field

from agents.services import llm
from agents.team.kinds import Mode
from agents.team.requests import TaskRequest


@dataclass
class AgentContext:
    mode: str  # a Mode value
    story: object  # stories.models.Story
    chapter: object | None  # the chapter the request is about, if any
    request: TaskRequest = field(default_factory=TaskRequest)  # what the writer asked
    emit: Callable[[str], None] = lambda token: None  # stream text to the writer as it is written
    should_cancel: Callable[[], bool] = lambda: False
    progress: Callable[[int, int], None] = lambda done, total: None  # long steps report how far they are
    target: llm.Target = field(default=None)

    def __post_init__(self):
        if self.target is None:
            self.target = llm.resolve(story=self.story)

    @property
    def mode_label(self) -> str:
        return Mode(self.mode).label

    def count_tokens(self, text: str) -> int:
        return self.target.provider.count_tokens(text)
