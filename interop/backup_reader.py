"""Reading a backup archive (a story's, or a whole account's) in the sandbox: everything bounded as it is read.

Plain Python (no Django): `read_upload` runs in a limited child process (core.sandbox). It checks the
archive's shape before anything is expanded (entries, declared sizes), reads backup.json and account.json no
further than their own small limits, reads a chapter's text and history one line at a time (format 2) so memory
follows the longest chapter, not the archive, validates every object's types and sizes and every reference
between objects, refuses a file listed twice (a story, a picture), and checks each picture's format and pixel
count from its header without decoding it. What it writes for the worker: for each story a skeleton (story,
chapters without their text, cast, relationships, world, facts, ignored findings, pictures) and one JSON-lines
file per chapter (its text, then its revisions), and each picture's bytes as they came; the worker cleans the
pictures (in children of their own) and checks every value against the models before it creates anything.
"""

import io
import json
from pathlib import Path
from typing import Annotated, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.sandbox import Unreadable
from stories.text import CHAPTER_MAX_CHARS

from . import archives

FORMAT = "storyassistant-story-backup"
ACCOUNT_FORMAT = "storyassistant-account-backup"
VERSION = 2  # chapters' text and history in chapters/<n>.jsonl; version 1 kept them inside backup.json
MAX_ENTRIES = 20_000
ACCOUNT_JSON_MAX_BYTES = 16 * 1024 * 1024
# One line of a chapter file: a revision of the longest chapter, every character escaped at worst.
LINE_MAX_BYTES = 6 * CHAPTER_MAX_CHARS + 64 * 1024
MAX_OBJECTS = 500_000  # chapters, revisions, people, entries, facts and pictures in one archive
PICTURE_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}


class BackupError(Unreadable):
    """Not a backup this app can restore; the message says why. Nothing was changed."""


Short = Annotated[str, Field(max_length=1000)]
Text = Annotated[str, Field(max_length=100_000)]
Content = Annotated[str, Field(max_length=CHAPTER_MAX_CHARS)]
Stamp = Annotated[str, Field(max_length=64)] | None
Count = Annotated[int, Field(ge=0, lt=2**31)]
Seed = Annotated[int, Field(ge=-(2**63), lt=2**63)]


class Doc(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)


class Revision(Doc):
    title: Short
    content: Content
    word_count: Count = 0
    version: Count = 1
    source: Short = "writer"
    note: Short = ""
    created_at: Stamp = None


class ChapterText(Doc):
    content: Content


class Chapter(Doc):
    title: Short
    status: Short = "draft"
    metadata: dict = {}
    continuation_context: dict = {}
    version: Count = 1
    file: Short | None = None  # format 2
    content: Content | None = None  # format 1
    revisions: list[Revision] = []  # format 1


class Person(Doc):
    name: Short
    appearance: Text = ""
    personality: Text = ""
    backstory: Text = ""
    speech_pattern: Text = ""
    goals: Text = ""
    attributes: dict = {}
    portrait_seed: Seed | None = None


class Member(Person):
    role: Short = "supporting"
    importance: Count = 5


class Relationship(Doc):
    source: Count
    target: Count
    kind: Short
    strength: Count = 5
    description: Text = ""
    metadata: dict = {}


class WorldEntry(Doc):
    kind: Short
    name: Short
    description: Text = ""
    time_period: Short = ""
    metadata: dict = {}


class Fact(Doc):
    subject: Short
    subject_kind: Short
    attribute: Short
    aspect: Short = ""
    value: Short
    is_change: bool = False
    quote: Text = ""
    offset: Count | None = None
    origin: Short
    status: Short
    model: Short = ""
    chapter: Count


class Ignored(Doc):
    fingerprint: Short
    kind: Short
    message: Text = ""


class Pattern(Doc):
    """A narrative pattern found in the story, kept for the writer's dismissals (a new reading finds the rest)."""

    key: Short
    likelihood: Annotated[float, Field(ge=0, le=1)] = 0
    similarity: Annotated[float, Field(ge=-1, le=1)] = 0
    cues: Annotated[list[Short], Field(max_length=100)] = []
    chapter: Count | None = None
    start: Count | None = None
    excerpt: Text = ""
    verdict: Literal["", "confirmed", "not_found"] = ""
    quote: Text = ""
    dismissed: bool = False


class Picture(Doc):
    kind: Short
    status: Short
    source: Short
    caption: Short = ""
    prompt: Text = ""
    negative_prompt: Text = ""
    seed: Seed | None = None
    service: Short = ""
    file: Short
    chapter: Count | None = None
    character: Count | None = None
    created_at: Stamp = None
    accepted_at: Stamp = None


class Anchored(Doc):
    chapter: Count
    quote: Text = ""
    prefix: Annotated[str, Field(max_length=64)] = ""
    suffix: Annotated[str, Field(max_length=64)] = ""
    start: Count = 0
    by: Annotated[str, Field(max_length=200)] = ""
    created_at: Stamp = None


class Reply(Doc):
    body: Text
    by: Annotated[str, Field(max_length=200)] = ""
    created_at: Stamp = None


class Comment(Anchored):
    body: Text
    resolved_at: Stamp = None
    replies: Annotated[list[Reply], Field(max_length=1000)] = []


class Suggestion(Anchored):
    replacement: Text = ""
    note: Short = ""
    status: Literal["open", "accepted", "rejected"] = "open"
    decided_at: Stamp = None


class Collaborator(Doc):
    email: Annotated[str, Field(max_length=254)]
    name: Short = ""
    role: Literal["co_author", "editor", "reader"]


class StoryMeta(Doc):
    title: Short
    genre: Short = ""
    premise: Text = ""
    metadata: dict = {}
    generation_settings: dict = {}
    created_at: Stamp = None


class Story(Doc):
    format: Literal["storyassistant-story-backup"]
    version: Literal[1, 2]
    story: StoryMeta
    chapters: list[Chapter] = []
    cast: list[Member] = []
    relationships: list[Relationship] = []
    world: list[WorldEntry] = []
    facts: list[Fact] = []
    ignored_findings: list[Ignored] = []
    patterns: list[Pattern] = []
    pictures: list[Picture] = []
    people: Annotated[list[Collaborator], Field(max_length=100)] = []
    comments: list[Comment] = []
    suggestions: list[Suggestion] = []

    @model_validator(mode="after")
    def references_hold(self):
        people, chapters = len(self.cast), len(self.chapters)
        if any(r.source >= people or r.target >= people for r in self.relationships):
            raise ValueError("a relationship names someone who is not in the cast")
        if any(f.chapter >= chapters for f in self.facts):
            raise ValueError("a fact belongs to a chapter that is not in the backup")
        if any(p.chapter is not None and p.chapter >= chapters for p in self.patterns):
            raise ValueError("a pattern belongs to a chapter that is not in the backup")
        if any(c.chapter >= chapters for c in [*self.comments, *self.suggestions]):
            raise ValueError("a comment or suggestion belongs to a chapter that is not in the backup")
        for p in self.pictures:
            if (p.chapter is not None and p.chapter >= chapters) or (p.character is not None and p.character >= people):
                raise ValueError("a picture belongs to a chapter or person that is not in the backup")
        if len({p.file for p in self.pictures}) < len(self.pictures):
            raise ValueError("it lists the same picture file twice")
        if self.version == 2 and any(not c.file for c in self.chapters):
            raise ValueError("a chapter has no file")
        return self


class Loose(Person):
    portrait: Short | None = None


class Account(Doc):
    format: Literal["storyassistant-account-backup"]
    version: Literal[1]
    stories: list[Short] = []
    characters: list[Loose] = []


def _parsed(model, data: bytes, what: str):
    try:
        return model.model_validate(json.loads(data))
    except ValueError as exc:  # json's and pydantic's errors alike
        raise BackupError(f"The backup is damaged: {what} {_reason(exc)}.") from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"({where}: {first['msg']})" if where else f"({first['msg']})"
    return "could not be read"


class Budget:
    """What one archive may cost in all: objects, pixels, and (through archives.Reader) bytes expanded."""

    def __init__(self, max_megapixels: int):
        self.objects, self.pixels, self.max_pixels = 0, 0, max_megapixels * 1_000_000

    def count(self, objects: int):
        self.objects += objects
        if self.objects > MAX_OBJECTS:
            raise BackupError(f"The backup holds more than {MAX_OBJECTS:,} objects; it was refused.")

    def add_pixels(self, pixels: int):
        self.pixels += pixels
        if self.pixels > self.max_pixels:
            raise BackupError(
                f"The backup's pictures hold more than {self.max_pixels // 1_000_000:,} megapixels in all, this "
                "server's limit (BACKUP_MAX_MEGAPIXELS); it was refused."
            )


def read_upload(data: bytes, folder: Path, *, max_unzipped: int, max_json_bytes: int, max_picture_bytes: int,
                max_pixels: int, max_megapixels: int, max_stories: int) -> dict:  # fmt: skip
    """The sandbox's entry point: {"kind": "story" | "account", "stories": [...], "characters": [...]}, each
    story as {"skeleton", "chapters": [file per chapter], "title"}, files in `folder`."""
    reading = Reading(folder, max_json_bytes, max_picture_bytes, max_pixels, Budget(max_megapixels))
    try:
        outer = archives.Reader(_open(data, max_unzipped), max_unzipped)
        if "account.json" not in outer.names():
            return {"kind": "story", "stories": [reading.story(outer, "s0")], "characters": []}
        account = _parsed(Account, outer.read("account.json", ACCOUNT_JSON_MAX_BYTES), "its account.json")
        if len(account.stories) > max_stories:
            raise BackupError(f"The backup holds more than {max_stories:,} stories, this server's limit.")
        if len(set(account.stories)) < len(account.stories):
            raise BackupError("The backup is damaged: it lists the same story twice.")
        reading.budget.count(len(account.stories) + len(account.characters))
        stories = []
        for index, name in enumerate(account.stories):
            inner = archives.Reader(_open(outer.read(name), max_unzipped), outer.left)
            stories.append(reading.story(inner, f"s{index}"))
            outer.left = inner.left  # the stories inside share the archive's budget
        portraits = [c.portrait for c in account.characters if c.portrait]
        if len(set(portraits)) < len(portraits):
            raise BackupError("The backup is damaged: it lists the same picture twice.")
        characters = []
        for index, character in enumerate(account.characters):
            raw = reading.picture(outer, character.portrait, f"c{index}") if character.portrait else None
            characters.append({**character.model_dump(exclude={"portrait"}), "raw": raw})
        return {"kind": "account", "stories": stories, "characters": characters}
    except archives.TooLarge as exc:
        raise BackupError("The archive expands to more than a backup could; it was refused.") from exc
    except archives.Damaged as exc:
        raise BackupError(f"The backup is damaged: {str(exc)[:200]}.") from exc


def _open(data: bytes, max_unzipped: int):
    try:
        return archives.open_zip(data, max_entries=MAX_ENTRIES, max_unzipped=max_unzipped)
    except archives.Damaged as exc:
        raise BackupError("The file is not a backup: it is not a zip archive.") from exc


class Reading:
    """One archive's stories and pictures, written into `folder` as they are read."""

    def __init__(self, folder: Path, max_json_bytes: int, max_picture_bytes: int, max_pixels: int, budget: Budget):
        self.folder, self.budget = folder, budget
        self.max_json_bytes, self.max_picture_bytes, self.max_pixels = max_json_bytes, max_picture_bytes, max_pixels

    def story(self, reader: archives.Reader, prefix: str) -> dict:
        if "backup.json" not in reader.names():
            raise BackupError("The archive has no backup.json: it is not a Story Assistant backup.")
        raw = reader.read("backup.json", self.max_json_bytes)
        try:
            head = json.loads(raw)
        except ValueError as exc:
            raise BackupError("The backup is damaged: its backup.json could not be read.") from exc
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise BackupError("The archive is not a Story Assistant story backup.")
        if head.get("version") not in (1, 2):
            raise BackupError(f"This backup's format (version {str(head.get('version'))[:20]}) is not one this "
                              "server reads.")  # fmt: skip
        del head
        story = _parsed(Story, raw, "its backup.json")
        del raw
        self.budget.count(sum(map(len, (story.chapters, story.cast, story.relationships, story.world, story.facts,
                                        story.ignored_findings, story.pictures, story.comments,
                                        story.suggestions))))  # fmt: skip
        self.budget.count(sum(len(c.replies) for c in story.comments))
        chapters = [self.chapter(reader, chapter, f"{prefix}-c{n}") for n, chapter in enumerate(story.chapters)]
        pictures = []
        for n, picture in enumerate(story.pictures):
            raw = self.picture(reader, picture.file, f"{prefix}-p{n}")
            pictures.append({**picture.model_dump(exclude={"file"}), "raw": raw})
        skeleton = story.model_dump(exclude={"chapters", "pictures", "format", "version"})
        skeleton["chapters"] = [c.model_dump(exclude={"file", "content", "revisions"}) for c in story.chapters]
        skeleton["pictures"] = pictures
        (self.folder / f"{prefix}.json").write_text(json.dumps(skeleton, ensure_ascii=False))
        return {"skeleton": f"{prefix}.json", "chapters": chapters, "title": story.story.title[:200]}

    def chapter(self, reader: archives.Reader, chapter: Chapter, name: str) -> str:
        """The chapter's text, then its revisions, one JSON line each, in `name`.jsonl."""
        with open(self.folder / f"{name}.jsonl", "w", encoding="utf-8") as out:
            if chapter.file is None:  # format 1: inside backup.json
                out.write(json.dumps({"content": chapter.content or ""}, ensure_ascii=False) + "\n")
                self.budget.count(len(chapter.revisions))
                for revision in chapter.revisions:
                    out.write(json.dumps(revision.model_dump(), ensure_ascii=False) + "\n")
                return f"{name}.jsonl"
            with io.BufferedReader(reader.open(chapter.file)) as lines:
                first = True
                while line := lines.readline(LINE_MAX_BYTES + 1):
                    if len(line) > LINE_MAX_BYTES:
                        raise BackupError(f"The backup is damaged: a line of {chapter.file[:100]} is far too long.")
                    if not line.strip():
                        continue
                    model, what = (ChapterText, "a chapter's text") if first else (Revision, "a revision")
                    out.write(json.dumps(_parsed(model, line, what).model_dump(), ensure_ascii=False) + "\n")
                    self.budget.count(1)
                    first = False
            if first:
                raise BackupError(f"The backup is damaged: {chapter.file[:100]} is empty.")
        return f"{name}.jsonl"

    def picture(self, reader: archives.Reader, file: str, name: str) -> str:
        """The picture's bytes as they came, once its header shows an accepted format within the pixel limit."""
        data = reader.read(file, self.max_picture_bytes)
        try:
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise BackupError("A picture in the backup is not a usable image.") from exc
        if kind not in PICTURE_FORMATS or width * height > self.max_pixels:
            raise BackupError(f"A picture in the backup is not a usable image ({kind}, {width:,} × {height:,}).")
        self.budget.add_pixels(width * height)
        (self.folder / f"{name}.raw").write_bytes(data)
        return f"{name}.raw"
