"""What the writer asked the team for, as one typed value. A task stores it (GenerationTask.request, as JSON) and
every agent reads it from AgentContext.request; the editor's form and the JSON API both build it with `about`."""

from pydantic import BaseModel, ConfigDict, Field

BEFORE_CURSOR_CHARS = 200  # enough text to find the writer's place again if the chapter changes meanwhile


def covers_text(start: int | None, end: int | None, content: str) -> bool:
    """Whether start..end selects some of `content`'s text (a rewrite or a check of a passage needs one)."""
    return start is not None and end is not None and start < end <= len(content)


def place_in(content: str, cursor: int | None) -> tuple[int, str]:
    """The cursor kept within `content` (its end when not given), and the text just before it."""
    cursor = len(content) if cursor is None else min(cursor, len(content))
    return cursor, content[max(0, cursor - BEFORE_CURSOR_CHARS) : cursor]


class Selection(BaseModel):
    """A passage of the chapter, in code points, and its text when it was asked about: a rewrite replaces the
    passage only if that text is still there."""

    model_config = ConfigDict(frozen=True)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str = ""


class TaskRequest(BaseModel):
    # Rows written by earlier versions may hold keys no longer read; they are ignored, never an error.
    model_config = ConfigDict(frozen=True, extra="ignore")

    note: str = ""  # the writer's own words on what they want
    chapter_title: str = ""  # a new chapter's title
    characters: list[str] = []  # names chosen to take part (dialogue, continuation)
    cursor: int | None = None  # where new text goes, in code points; None: the chapter's end
    before_cursor: str = ""  # the text just before the cursor when asked
    base_version: int | None = None  # the chapter's version when asked
    selection: Selection | None = None  # the passage to rewrite or to check
    character: int | None = None  # a portrait's character
    new_look: bool = False  # a portrait drawn with a new seed instead of the character's own

    @classmethod
    def about(cls, chapter=None, *, cursor=None, selection=None, **fields) -> "TaskRequest":
        """A request about `chapter` (a stories Chapter, or None for a new one) as it is now: its version, the
        cursor (kept within the text; the end when not given) with the text before it, and `selection`, a
        (start, end) pair, with the text it covers."""
        content = chapter.content if chapter else ""
        cursor, before = place_in(content, cursor)
        if selection is not None:
            start, end = selection
            selection = Selection(start=start, end=end, text=content[start:end])
        return cls(cursor=cursor, before_cursor=before, base_version=chapter.version if chapter else None,
                   selection=selection, **fields)  # fmt: skip

    def rebased(self, chapter) -> "TaskRequest":
        """The same request against the chapter as it is now, when it changed since (asking again)."""
        if chapter is None or chapter.version == self.base_version:
            return self
        cursor, before = place_in(chapter.content, self.cursor)
        return self.model_copy(update={"base_version": chapter.version, "cursor": cursor, "before_cursor": before})

    def selected_in(self, content: str) -> str:
        """What the selection covers in `content` (nothing without a selection)."""
        return content[self.selection.start : self.selection.end] if self.selection else ""

    def cursor_in(self, content: str) -> int:
        return len(content) if self.cursor is None else self.cursor

    def with_note(self, note: str) -> "TaskRequest":
        """The request with the writer's further note added to theirs."""
        return self.model_copy(update={"note": "; ".join(filter(None, [self.note, note]))})
