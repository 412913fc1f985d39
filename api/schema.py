"""The JSON API's bodies as pydantic models: they validate what comes in (a bad field is a 400 naming it) and
describe every operation in the OpenAPI document served at /api/openapi.json (built from ROUTES here)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stories.models import CHAPTER_MAX_CHARS, WorldEntry


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoryIn(In):
    title: str = Field(min_length=1, max_length=200)
    genre: str = Field("", max_length=100)
    premise: str = Field("", max_length=5000)


class StoryPatch(In):
    title: str | None = Field(None, min_length=1, max_length=200)
    genre: str | None = Field(None, max_length=100)
    premise: str | None = Field(None, max_length=5000)


class StoryOut(BaseModel):
    id: int
    title: str
    genre: str
    premise: str
    chapters: int
    words: int
    updated_at: datetime


class ChapterIn(In):
    title: str = Field(min_length=1, max_length=200)
    content: str = Field("", max_length=CHAPTER_MAX_CHARS)


class ChapterPatch(In):
    """Changing the content needs the version it was based on; an older one is a 409 and changes nothing."""

    title: str | None = Field(None, min_length=1, max_length=200)
    content: str | None = Field(None, max_length=CHAPTER_MAX_CHARS)
    base_version: int | None = Field(None, ge=1)


class ChapterOut(BaseModel):
    id: int
    title: str
    order: int
    version: int
    word_count: int
    updated_at: datetime
    content: str | None = None  # in a chapter's own answer, not in lists


class CharacterIn(In):
    name: str = Field(min_length=1, max_length=200)
    appearance: str = Field("", max_length=10000)
    personality: str = Field("", max_length=10000)
    backstory: str = Field("", max_length=20000)
    speech_pattern: str = Field("", max_length=5000)
    goals: str = Field("", max_length=5000)


class CharacterPatch(In):
    name: str | None = Field(None, min_length=1, max_length=200)
    appearance: str | None = Field(None, max_length=10000)
    personality: str | None = Field(None, max_length=10000)
    backstory: str | None = Field(None, max_length=20000)
    speech_pattern: str | None = Field(None, max_length=5000)
    goals: str | None = Field(None, max_length=5000)


class CharacterOut(CharacterIn):
    model_config = ConfigDict(extra="ignore")
    id: int


WorldKind = Literal[tuple(WorldEntry.Kind.values)]


class WorldEntryIn(In):
    kind: WorldKind = "lore"
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=20000)
    time_period: str = Field("", max_length=200)
    keys: list[str] = Field([], max_length=50)


class WorldEntryPatch(In):
    kind: WorldKind | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=20000)
    time_period: str | None = Field(None, max_length=200)
    keys: list[str] | None = Field(None, max_length=50)


class WorldEntryOut(WorldEntryIn):
    model_config = ConfigDict(extra="ignore")
    id: int


class GenerateIn(In):
    mode: Literal["next_chapter", "continue", "rewrite", "dialogue", "brainstorm"]
    chapter_id: int | None = None
    note: str = Field("", max_length=2000)
    cursor: int | None = None
    selection_start: int | None = None
    selection_end: int | None = None
    characters: list[str] = []


class ContinuityIn(In):
    selection_start: int | None = None
    selection_end: int | None = None


class Error(BaseModel):
    error: str
    fields: dict | None = None
    retry_after: int | None = None


PAGE_SIZE = 50


# method, path, summary, body, answer (a model, "page" of a model, or "task"), what the answer is
ROUTES = [
    ("get", "/api/stories", "Your stories, most recently changed first", None, ("page", StoryOut)),
    ("post", "/api/stories", "Create a story", StoryIn, StoryOut),
    ("get", "/api/stories/{story_id}", "A story", None, StoryOut),
    ("patch", "/api/stories/{story_id}", "Change a story's title, genre or premise", StoryPatch, StoryOut),
    ("get", "/api/stories/{story_id}/chapters", "A story's chapters in order (without their text)", None,
     ("page", ChapterOut)),
    ("post", "/api/stories/{story_id}/chapters", "Add a chapter at the end", ChapterIn, ChapterOut),
    ("get", "/api/stories/{story_id}/chapters/{chapter_id}", "A chapter with its text", None, ChapterOut),
    ("patch", "/api/stories/{story_id}/chapters/{chapter_id}",
     "Change a chapter (content with base_version; an older version answers 409)", ChapterPatch, ChapterOut),
    ("get", "/api/characters", "Your character library", None, ("page", CharacterOut)),
    ("post", "/api/characters", "Create a character", CharacterIn, CharacterOut),
    ("get", "/api/characters/{character_id}", "A character", None, CharacterOut),
    ("patch", "/api/characters/{character_id}", "Change a character", CharacterPatch, CharacterOut),
    ("get", "/api/stories/{story_id}/world", "A story's world entries", None, ("page", WorldEntryOut)),
    ("post", "/api/stories/{story_id}/world", "Add a world entry", WorldEntryIn, WorldEntryOut),
    ("get", "/api/stories/{story_id}/world/{entry_id}", "A world entry", None, WorldEntryOut),
    ("patch", "/api/stories/{story_id}/world/{entry_id}", "Change a world entry", WorldEntryPatch, WorldEntryOut),
    ("post", "/api/stories/{story_id}/generate-content", "Ask the agents for text (a task)", GenerateIn, "task"),
    ("post", "/api/stories/{story_id}/chapters/{chapter_id}/continuity", "Check a chapter's continuity (a task)",
     ContinuityIn, "task"),
    ("get", "/api/tasks/{task_id}/status", "A task's progress and result", None, "status"),
    ("post", "/api/tasks/{task_id}/cancel", "Cancel a task", None, "status"),
    ("get", "/api/pictures/{picture_id}/image", "A portrait's or illustration's file (thumbnail: .../thumbnail)", None,
     "image"),
]  # fmt: skip
