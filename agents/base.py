"""What every agent receives: the task, its story, and ways to stream text and to notice cancellation."""

from collections.abc import Callable
from dataclasses import dataclass, field

from . import llm


@dataclass
class AgentContext:
    task: object  # generation.models.GenerationTask
    story: object  # stories.models.Story
    chapter: object | None  # the chapter the request is about, if any
    emit: Callable[[str], None] = lambda token: None  # stream text to the writer as it is written
    should_cancel: Callable[[], bool] = lambda: False
    target: llm.Target = field(default=None)

    def __post_init__(self):
        if self.target is None:
            self.target = llm.resolve(story=self.story)

    @property
    def request(self) -> dict:
        return self.task.request or {}

    def count_tokens(self, text: str) -> int:
        return self.target.provider.count_tokens(text)
