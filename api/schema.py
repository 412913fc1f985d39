"""The JSON API's bodies as pydantic models: they validate what comes in (a bad field is a 400 naming it) and
describe every operation in the OpenAPI document served at /api/openapi.json (built from ROUTES here), so what the
document promises and what the API does are one thing. Text limits come from the models' own fields."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model, model_validator

from agents.discovery.scenes import kinds as scene_kinds
from characters.models import Character
from stories.models import CHAPTER_MAX_CHARS, Story, WorldEntry

# PostgreSQL cannot store NUL in text: the document says so, and such text is refused with the field's name.
NO_NUL = r"^[^\x00]*$"
NAME_MAX = 200


def text(max_length: int, required: bool = False):
    return Annotated[str, Field(min_length=1 if required else 0, max_length=max_length, pattern=NO_NUL)]


def text_of(model, name: str):
    """A string within the limits of `model`'s field `name` (required unless the field may be blank)."""
    field = model._meta.get_field(name)
    return text(field.max_length, required=not field.blank)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def patch_of(model: type[In], name: str) -> type[In]:
    """`model`'s fields, each optional: a PATCH changes what it sends and keeps the rest."""
    fields = {
        field: (Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation, None)
        for field, info in model.model_fields.items()
    }
    return create_model(name, __base__=In, __doc__=f"Any of {model.__name__}'s fields, to change.", **fields)


class StoryIn(In):
    title: text_of(Story, "title")
    genre: text_of(Story, "genre") = ""
    premise: text_of(Story, "premise") = ""


StoryPatch = patch_of(StoryIn, "StoryPatch")


StoryRole = Literal["owner", "co_author", "editor", "reader"]


class StoryOut(BaseModel):
    id: int
    title: str
    genre: str
    premise: str
    chapters: int
    words: int
    updated_at: datetime
    role: StoryRole  # yours on this story: owner, co-author, editor or beta reader
    owner: str  # the owner's name


class StoriesQuery(In):
    role: Literal["any", "shared", "owner", "co_author", "editor", "reader"] = Field(
        "any", description="Only the stories where you have this role (shared: every role but owner)"
    )


class ChapterIn(In):
    title: text(NAME_MAX, required=True)
    content: text(CHAPTER_MAX_CHARS) = ""


class ChapterPatch(patch_of(ChapterIn, "ChapterFields")):
    """A new content needs the version it was based on; an older one is a 409 and changes nothing."""

    model_config = ConfigDict(json_schema_extra={"dependentRequired": {"content": ["base_version"]}})
    base_version: int = Field(None, ge=1)

    @model_validator(mode="after")
    def content_has_its_version(self):
        if self.content is not None and self.base_version is None:
            raise ValueError("Send base_version (the version your content is based on) with the content.")
        return self


class ChapterOut(BaseModel):
    id: int
    title: str
    order: int
    version: int
    word_count: int
    updated_at: datetime
    content: str | None = None  # in a chapter's own answer, not in lists


class CharacterIn(In):
    name: text_of(Character, "name")
    appearance: text_of(Character, "appearance") = ""
    personality: text_of(Character, "personality") = ""
    backstory: text_of(Character, "backstory") = ""
    speech_pattern: text_of(Character, "speech_pattern") = ""
    goals: text_of(Character, "goals") = ""


CharacterPatch = patch_of(CharacterIn, "CharacterPatch")


class CharacterOut(BaseModel):
    id: int
    name: str
    appearance: str
    personality: str
    backstory: str
    speech_pattern: str
    goals: str


WorldKind = Literal[tuple(WorldEntry.Kind.values)]


class WorldEntryIn(In):
    kind: WorldKind = "lore"
    name: text_of(WorldEntry, "name")
    description: text_of(WorldEntry, "description") = ""
    time_period: text_of(WorldEntry, "time_period") = ""
    keys: list[text(NAME_MAX, required=True)] = Field([], max_length=50)


WorldEntryPatch = patch_of(WorldEntryIn, "WorldEntryPatch")


class WorldEntryOut(BaseModel):
    id: int
    kind: str
    name: str
    description: str
    time_period: str
    keys: list[str]


# --- asking the agents ------------------------------------------------------------------------------------------------

Note = text(2000)
Names = Annotated[list[text(NAME_MAX, required=True)], Field(max_length=20)]  # cast members, by name
Offset = Annotated[int, Field(ge=0)]  # a position in the chapter's text, in code points


class NextChapterIn(In):
    """A new chapter, after `chapter_id` (or at the end)."""

    mode: Literal["next_chapter"]
    chapter_id: int = None
    chapter_title: text(NAME_MAX) = ""
    note: Note = ""
    characters: Names = []


class ContinueIn(In):
    """More text at `cursor` (the chapter's end when not given; past the end means the end)."""

    mode: Literal["continue"]
    chapter_id: int
    cursor: Offset = None
    note: Note = ""
    characters: Names = []


class RewriteIn(In):
    """The passage from `selection_start` to `selection_end` rewritten; one that covers no text of the chapter
    as it is now is a 409."""

    mode: Literal["rewrite"]
    chapter_id: int
    selection_start: Offset
    selection_end: Offset
    note: Note = ""
    characters: Names = []


class DialogueIn(In):
    """A conversation between the named cast members, at `cursor`."""

    mode: Literal["dialogue"]
    chapter_id: int
    characters: Annotated[list[text(NAME_MAX, required=True)], Field(min_length=1, max_length=20)]
    cursor: Offset = None
    note: Note = ""


class BrainstormIn(In):
    """Ideas for where the story could go (never written into a chapter)."""

    mode: Literal["brainstorm"]
    chapter_id: int = None
    note: Note = ""
    characters: Names = []


class GenerateIn(RootModel):
    """What to ask for, by mode. Names in `characters` must be in the story's cast (else a 404)."""

    root: Annotated[NextChapterIn | ContinueIn | RewriteIn | DialogueIn | BrainstormIn, Field(discriminator="mode")]


class ContinuityIn(In):
    """The whole chapter, or the passage from `selection_start` to `selection_end` of it."""

    selection_start: Offset = None
    selection_end: Offset = None


# --- discovery ----------------------------------------------------------------------------------------------------


class CharacterLike(BaseModel):
    id: int
    name: str
    likeness: float  # cosine similarity of the two profiles, 0-1
    reasons: list[str]  # what the two profiles share, in words


class CharactersLikeOut(BaseModel):
    """The writer's characters closest to this one across all their stories (none until its profile is read)."""

    results: list[CharacterLike]


class PatternOut(BaseModel):
    key: str
    name: str
    category: str
    description: str
    common_in_fiction: str  # often, sometimes, rarely
    staple_of_genre: str  # the story's genre, when the pattern is a staple of it
    likelihood: float
    chapter_id: int | None
    excerpt: str  # the start of the passage most like the pattern
    telling_words: list[str]
    verdict: Literal["", "confirmed", "not_found"]  # a capable model's judgement; "": not judged
    quote: str  # the sentence the model quoted as showing it
    dismissed: bool


class PatternsOut(BaseModel):
    """The patterns of the last reading (POST the bible's "Look for patterns" or the story page to read again)."""

    read_at: datetime | None
    passages: int
    judged_by: str  # the model that confirmed the candidates, if any
    note: str  # why they were not confirmed
    chapters_changed_since: bool
    results: list[PatternOut]


class StyleFigures(BaseModel):
    words: int = 0
    sentences: int = 0
    sentence_lengths: list[int] = []  # sentences of up to 5, 10, ... 40 words, then over 40
    mean_sentence: float = 0
    sentence_variety: float = 0
    dialogue_share: float = 0
    adverbs_per_1000: float = 0
    filter_words_per_1000: float = 0
    passive_per_100_sentences: float = 0
    reading_ease: float = 0
    point_of_view: str = ""
    tense: str = ""
    pov_slips: list[str] = []
    tense_slips: list[str] = []
    repeated_words: list[tuple[str, int]] = []
    repeated_openings: list[str] = []
    top_adverbs: list[tuple[str, int]] = []


class ChapterStyleOut(BaseModel):
    chapter_id: int
    order: int
    title: str
    figures: StyleFigures


class RecommendationOut(BaseModel):
    chapter_id: int
    text: str
    quotes: list[str]


class StyleOut(BaseModel):
    """The style report: figures per chapter, the writer's usual figures across their library, what stands out.
    Chapters still being measured are listed by id; ask again shortly."""

    norm: dict[str, float]
    chapters: list[ChapterStyleOut]
    recommendations: list[RecommendationOut]
    pending_chapter_ids: list[int]


SceneKind = Literal[("", *(k.key for k in scene_kinds()))]
SceneText = text(5000)  # a passage to compare: a few paragraphs
CastId = Annotated[int, Field(ge=0, lt=2**63, description="a character of the story's cast; 0: anyone")]


class ScenesQuery(In):
    """Passages like `text`, where characters `a` and `b` (ids in the story's cast) appear, or of a `kind`; in
    the story, or in all the writer's stories with scope=library. Nothing asked finds nothing."""

    text: SceneText = ""
    a: CastId = 0
    b: CastId = 0
    kind: SceneKind = ""
    scope: Literal["story", "library"] = "story"


class SceneOut(BaseModel):
    story_id: int
    chapter_id: int
    start: int | None  # offsets of the passage in the chapter's text
    end: int | None
    text: str
    score: float | None  # closeness in meaning, when ranked by meaning


class ScenesOut(BaseModel):
    results: list[SceneOut]


class Error(BaseModel):
    error: str
    fields: dict | None = None
    retry_after: int | None = None


PAGE_SIZE = 50


# method, path, summary, body, answer (a model, "page" of a model, or "task"), what the answer is
ROUTES = [
    ("get", "/api/stories", "Your stories and those shared with you, most recently changed first", StoriesQuery,
     ("page", StoryOut)),
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
    ("get", "/api/characters/{character_id}/like-this", "The writer's characters closest to this one", None,
     CharactersLikeOut),
    ("get", "/api/stories/{story_id}/patterns", "Narrative patterns found in the story", None, PatternsOut),
    ("get", "/api/stories/{story_id}/style", "The story's style report", None, StyleOut),
    ("get", "/api/stories/{story_id}/scenes", "Scenes like this one (query parameters)", ScenesQuery, ScenesOut),
    ("get", "/api/pictures/{picture_id}/image", "A portrait's or illustration's file (thumbnail: .../thumbnail)", None,
     "image"),
]  # fmt: skip
