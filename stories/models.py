from datetime import timedelta
from typing import Annotated, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from .anchors import HERE
from .text import CHAPTER_MAX_CHARS, count_words  # noqa: F401 - the chapter's limit and word count live there

TRASH_DAYS = 30


DIALECTS = {
    "en-US": "American English",
    "en-GB": "British English",
    "en-AU": "Australian English",
    "en-CA": "Canadian English",
    "en-IN": "Indian English",
}


# How portraits and scene illustrations look; the words each style adds to a picture's prompt are in
# agents/prompts/image_styles.json.
IMAGE_STYLES = {
    "illustration": "Book illustration",
    "painterly": "Oil painting",
    "watercolour": "Watercolour",
    "ink": "Ink drawing",
    "anime": "Anime",
    "comic": "Comic book",
    "photographic": "Photographic",
}


POINTS_OF_VIEW = {
    "first": "First person",
    "second": "Second person",
    "third_limited": "Third person limited",
    "third_omniscient": "Third person omniscient",
}


DICTIONARY_WORDS, DICTIONARY_WORD_CHARS = 500, 100


def dictionary_entry(word: str) -> str:
    """A word or name as the story's dictionary keeps it: single spaces inside, none around."""
    return " ".join(word.split())


class GenerationSettings(BaseModel):
    """What the agents need to know to write in this story's voice; stored in Story.generation_settings."""

    model_config = ConfigDict(extra="forbid")

    tone: str = Field("", max_length=120)
    pov: Literal["first", "second", "third_limited", "third_omniscient"] = "third_limited"
    tense: Literal["past", "present"] = "past"
    target_words: int = Field(2000, ge=100, le=20000)
    images_enabled: bool = False
    image_style: Literal[tuple(IMAGE_STYLES)] = "illustration"
    model: str = Field("", max_length=200)
    # Spelling and grammar are checked in this English (British "harbour" is no misspelling in a British story).
    dialect: Literal["en-US", "en-GB", "en-AU", "en-CA", "en-IN"] = "en-US"
    # Passages of generations the writer rated 4 or 5 go into the context as examples of the style they like.
    learn_from_ratings: bool = True
    # The story's own words (names, invented words) that grammar leaves alone, besides the cast's and the world's.
    dictionary: list[Annotated[str, Field(min_length=1, max_length=DICTIONARY_WORD_CHARS)]] = Field(
        [], max_length=DICTIONARY_WORDS
    )

    def with_word(self, word: str) -> "GenerationSettings":
        """The settings with `word` in the story's dictionary (once; refused past its size with ValueError)."""
        word = dictionary_entry(word)[:DICTIONARY_WORD_CHARS]
        if not word or word in self.dictionary:
            return self
        if len(self.dictionary) >= DICTIONARY_WORDS:
            raise ValueError(
                f"This story's dictionary is full ({DICTIONARY_WORDS} words): remove some in its settings."
            )
        return self.model_copy(update={"dictionary": [*self.dictionary, word]})

    @property
    def pov_label(self) -> str:
        return POINTS_OF_VIEW[self.pov]


def validate_generation_settings(value) -> dict:
    try:
        return GenerationSettings.model_validate(value or {}).model_dump()
    except PydanticValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
        raise ValidationError(f"Invalid generation settings: {problems}") from exc


def validate_json_object(value):
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.")


class StoryQuerySet(models.QuerySet):
    def owned_by(self, user):
        """Everything the user owns that is not in the trash, including stories hidden by moderators
        (the dashboard shows those with the moderator's reason)."""
        return self.filter(owner=user, deleted_at__isnull=True)

    def for_user(self, user):
        """Stories the user may open: their own, not hidden by moderators, not in the trash."""
        return self.owned_by(user).filter(is_flagged=False)

    def active(self):
        return self.filter(archived_at__isnull=True)

    def archived(self):
        return self.filter(archived_at__isnull=False)

    def in_trash(self, user):
        return self.filter(owner=user, deleted_at__isnull=False)

    def expired_trash(self):
        return self.filter(deleted_at__lt=timezone.now() - timedelta(days=TRASH_DAYS))


class Story(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stories")
    title = models.CharField(max_length=200)
    genre = models.CharField(max_length=100, blank=True)
    premise = models.TextField(blank=True, max_length=10000)
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_json_object])
    generation_settings = models.JSONField(default=dict, blank=True)

    # Moderation: a flagged story is hidden from everyone but staff; its owner sees the reason.
    is_flagged = models.BooleanField(default=False)
    flag_reason = models.TextField(blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    archived_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StoryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "stories"
        indexes = [
            # The dashboard: a user's stories, most recently edited first.
            models.Index(fields=["owner", "-updated_at"], name="story_owner_updated_idx"),
            # Admin moderation queue filters on flagged stories.
            models.Index(fields=["is_flagged"], name="story_flagged_idx", condition=Q(is_flagged=True)),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("story_detail", args=[self.pk])

    @property
    def settings(self) -> GenerationSettings:
        return GenerationSettings.model_validate(self.generation_settings or {})

    def clean(self):
        super().clean()
        self.generation_settings = validate_generation_settings(self.generation_settings)

    def save(self, *args, **kwargs):
        # JSON columns are validated on every save, not only through forms.
        self.generation_settings = validate_generation_settings(self.generation_settings)
        validate_json_object(self.metadata)
        super().save(*args, **kwargs)

    def flag(self, reason: str, by=None):
        if not reason.strip():
            raise ValidationError("A reason is required to hide a story.")
        self.is_flagged = True
        self.flag_reason = reason.strip()
        self.flagged_at = timezone.now()
        self.flagged_by = by
        self.save(update_fields=["is_flagged", "flag_reason", "flagged_at", "flagged_by", "updated_at"])

    def unflag(self):
        self.is_flagged = False
        self.flag_reason = ""
        self.flagged_at = None
        self.flagged_by = None
        self.save(update_fields=["is_flagged", "flag_reason", "flagged_at", "flagged_by", "updated_at"])

    def hand_over(self, new_owner):
        """Make a collaborator the owner; the old owner stays on as a co-author, so nobody loses the story."""
        from_owner = self.owner
        with transaction.atomic():
            self.lock()
            StoryMembership.objects.filter(story=self, user=new_owner).delete()
            StoryMembership.objects.update_or_create(
                story=self, user=from_owner, defaults={"role": Role.CO_AUTHOR, "added_by": new_owner}
            )
            self.owner = new_owner
            self.save(update_fields=["owner", "updated_at"])

    def lock(self):
        """Hold the story's row until the transaction ends, so chapters' places (and other changes that read
        before they write) are chosen one writer at a time."""
        Story.objects.select_for_update().filter(pk=self.pk).values_list("pk", flat=True).get()

    def next_chapter_order(self) -> int:
        last = self.chapters.aggregate(models.Max("order"))["order__max"]
        return (last or 0) + 1

    def append_chapter(self, title: str | None = None, content: str = "", **fields) -> "Chapter":
        """A new chapter after the last one (titled "Chapter N" when no title is given). The story's row is locked
        while the place is chosen, so chapters added at once (two tabs, two API calls) take different places.
        `fields` may include the first revision's revision_author, revision_source and revision_note."""
        revision = {k: fields.pop(k) for k in ("revision_author", "revision_source", "revision_note") if k in fields}
        with transaction.atomic():
            self.lock()
            order = self.next_chapter_order()
            chapter = Chapter(story=self, order=order, title=(title or f"Chapter {order}")[:200], **fields)
            chapter.content = content
            for name, value in revision.items():
                setattr(chapter, name, value)
            chapter.save()
        return chapter

    def insert_chapter(self, text: str, *, after=None, title: str | None = None, **revision) -> "Chapter":
        """A new chapter with `text` right after `after` (the later ones move down), or after the last one; under
        the story's lock, so chapters added at once take different places. `revision`: the first revision's
        revision_author, revision_source and revision_note."""
        within_chapter_limit(text)
        with transaction.atomic():
            self.lock()
            order = after.order + 1 if after is not None else self.next_chapter_order()
            # Make room after the chapter it follows (the order constraint is checked at commit).
            for later in self.chapters.select_for_update().filter(order__gte=order).order_by("-order"):
                Chapter.objects.filter(pk=later.pk).update(order=later.order + 1)
            chapter = Chapter(story=self, order=order, title=(title or f"Chapter {order}")[:200])
            chapter.content = text
            for name, value in revision.items():
                setattr(chapter, name, value)
            chapter.save()
        return chapter

    def add_lore(self, items: list[dict]) -> tuple[int, int]:
        """World entries for lorebook items (interop.lorebooks), skipping names the story already has, all or
        nothing; (added, skipped)."""
        with transaction.atomic():
            self.lock()
            existing = {n.lower() for n in self.world_entries.values_list("name", flat=True)}
            added = 0
            for item in items:
                if item["name"].lower() in existing:
                    continue
                WorldEntry.objects.create(story=self, **item)
                existing.add(item["name"].lower())
                added += 1
        return added, len(items) - added

    def archive(self):
        self.archived_at = timezone.now()
        self.save(update_fields=["archived_at", "updated_at"])

    def unarchive(self):
        self.archived_at = None
        self.save(update_fields=["archived_at", "updated_at"])

    def move_to_trash(self):
        """Soft delete: the story disappears now and can be restored for TRASH_DAYS days."""
        self.deleted_at = timezone.now()
        self.save(update_fields=["deleted_at"])

    def restore_from_trash(self):
        self.deleted_at = None
        self.save(update_fields=["deleted_at", "updated_at"])

    @property
    def purge_after(self):
        return self.deleted_at + timedelta(days=TRASH_DAYS) if self.deleted_at else None

    def touch(self):
        """Mark the story as edited now (the dashboard sorts by it) without loading or saving the row."""
        Story.objects.filter(pk=self.pk).update(updated_at=timezone.now())

    @transaction.atomic
    def reorder_chapters(self, chapter_ids: list[int]):
        """Put the chapters in the given order; ids must be exactly this story's chapters."""
        current = set(self.chapters.values_list("pk", flat=True))
        if set(chapter_ids) != current or len(chapter_ids) != len(current):
            raise ValidationError("The new order must list every chapter of the story exactly once.")
        # The order constraint is deferred, so positions may collide until the transaction commits.
        for position, pk in enumerate(chapter_ids, start=1):
            Chapter.objects.filter(pk=pk, story=self).update(order=position)
        self.touch()


CONFLICT_NOTE = "Not applied: edited from an older version (another tab or device saved first)"


class EditRefused(ValueError):
    """A change to a chapter that cannot be made as asked (the passage changed since, or the chapter would be too
    long); the message says why, for the writer. Nothing was changed."""


def within_chapter_limit(content: str) -> str:
    """The text, once it is within the size limit a chapter has (the writer's own saves obey it too)."""
    if len(content) > CHAPTER_MAX_CHARS:
        raise EditRefused(
            f"With this change the chapter would be {len(content):,} characters; the limit is {CHAPTER_MAX_CHARS:,}. "
            "Nothing was changed: split the chapter first, or copy the part you want."
        )
    return content


class ChapterConflict(Exception):
    """A save was based on an older version than the one stored; nothing was overwritten."""

    def __init__(self, chapter):
        super().__init__(f"Chapter {chapter.pk} changed since it was loaded (now version {chapter.version}).")
        self.chapter = chapter


class Chapter(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        FINAL = "final", "Final"

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="chapters")
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True)
    order = models.PositiveIntegerField()
    word_count = models.PositiveIntegerField(default=0, editable=False)
    # Bumped on every content change; a save based on an older version is refused (two tabs, two devices).
    version = models.PositiveIntegerField(default=1, editable=False)
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_json_object])
    continuation_context = models.JSONField(default=dict, blank=True, validators=[validate_json_object])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order"]
        constraints = [
            # Deferred so a reorder can swap positions inside one transaction.
            models.UniqueConstraint(
                fields=["story", "order"],
                name="chapter_story_order_unique",
                deferrable=models.Deferrable.DEFERRED,
            ),
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._saved_content = None  # what the database holds, to tell whether a save changes the content
        self.revision_author = None
        self.revision_source = ChapterRevision.Source.WRITER
        self.revision_note = ""

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._saved_content = instance.__dict__.get("content")
        return instance

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._saved_content = self.__dict__.get("content")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("chapter_edit", args=[self.story_id, self.pk])

    def save(self, *args, **kwargs):
        """Every save that changes the content keeps a revision of it; the word count follows the content."""
        content_changed = self._state.adding or self.__dict__.get("content") != self._saved_content
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "content" not in update_fields:
            content_changed = False
        if content_changed:
            self.word_count = count_words(self.content)
            if not self._state.adding:
                self.version += 1
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "word_count", "version", "updated_at"}
        for field in ("metadata", "continuation_context"):  # when loaded: an autosave reads neither
            if field in self.__dict__:
                validate_json_object(self.__dict__[field])
        with transaction.atomic(savepoint=False):  # the revision is kept with the text or neither is
            super().save(*args, **kwargs)
            if content_changed:
                ChapterRevision.objects.create(
                    chapter=self,
                    title=self.title,
                    content=self.content,
                    word_count=self.word_count,
                    version=self.version,
                    source=self.revision_source,
                    author=self.revision_author,
                    note=self.revision_note,
                )
        self._saved_content = self.content
        Story(pk=self.story_id).touch()

    def clean(self):
        super().clean()
        if len(self.content) > CHAPTER_MAX_CHARS:
            raise ValidationError(
                {
                    "content": f"This chapter is {len(self.content):,} characters; the limit is {CHAPTER_MAX_CHARS:,}. "
                    "Split it into two chapters."
                }
            )

    @transaction.atomic
    def move(self, offset: int):
        """Swap places with the chapter `offset` positions away (-1 up, +1 down); no-op at either end."""
        siblings = list(self.story.chapters.select_for_update().values_list("pk", flat=True))
        index = siblings.index(self.pk)
        target = index + offset
        if 0 <= target < len(siblings):
            siblings[index], siblings[target] = siblings[target], siblings[index]
            self.story.reorder_chapters(siblings)

    def keep_conflicting_text(self, content: str, *, base_version: int, author=None):
        """A save lost a conflict: keep its text as a revision (not applied) so neither side is lost."""
        latest = self.revisions.filter(note=CONFLICT_NOTE).first()
        if latest and latest.content == content:
            return latest  # autosave retrying the same refused text
        return ChapterRevision.objects.create(
            chapter=self,
            title=self.title,
            content=content,
            word_count=count_words(content),
            version=base_version,
            source=ChapterRevision.Source.WRITER,
            author=author,
            note=CONFLICT_NOTE,
        )

    def save_content(self, content: str, *, base_version: int, author=None, title=None, source=None, note=""):
        """Save the writer's text if it is based on the stored version; otherwise raise ChapterConflict
        and leave the stored text untouched (the caller keeps the writer's copy)."""
        with transaction.atomic():
            # The row's text and version, locked; the other columns (notes, metadata) are neither read nor
            # written back by an autosave.
            locked = Chapter.objects.select_for_update().only("story_id", "title", "content", "version")
            current = locked.get(pk=self.pk)
            same_text = current.content == content and (title is None or title == current.title)
            if current.version != base_version:
                if same_text:
                    return current  # a retried save whose answer was lost on the way: it is already stored
                raise ChapterConflict(current)
            if same_text:
                return current
            current.content = content
            if title is not None:
                current.title = title
            current.revision_author = author
            current.revision_source = source or ChapterRevision.Source.WRITER
            current.revision_note = note
            current.save(update_fields=["content", "title"])
        return current

    def accept_suggestion(self, suggestion, by) -> "Chapter":
        """Apply a suggestion's replacement to the chapter as it is now, as a save (its revision says whose
        suggestion it was), and mark it accepted. Raises ValueError when the quoted passage is no longer there."""
        who = suggestion.by
        for _attempt in range(3):  # an autosave may land between reading and saving: read again
            current = Chapter.objects.only("story_id", "title", "content", "version").get(pk=self.pk)
            found = suggestion.found_in(current.content)
            if found.state != HERE:
                raise ValueError("The passage changed since this was suggested, so it cannot be applied as it is.")
            text = current.content[: found.start] + suggestion.replacement + current.content[found.end :]
            try:
                with transaction.atomic():
                    saved = current.save_content(
                        text, base_version=current.version, author=by,
                        source=ChapterRevision.Source.SUGGESTION, note=f"Suggestion by {who} accepted",
                    )  # fmt: skip
                    suggestion.decide(suggestion.Status.ACCEPTED, by)
                return saved
            except ChapterConflict:
                continue
        raise ValueError("The chapter keeps changing; try accepting it again in a moment.")

    def with_passage_replaced(self, start: int, end: int, expected: str, text: str) -> str:
        """The content with content[start:end] replaced by `text`, if that passage still reads `expected`."""
        if self.content[start:end] != expected:
            raise EditRefused(
                "The passage you asked to rewrite has changed since. Nothing was replaced: copy the proposal into the "
                "chapter yourself, or ask for a new rewrite."
            )
        return within_chapter_limit(self.content[:start] + text + self.content[end:])

    def with_text_inserted(self, text: str, cursor: int, before_cursor: str, base_version: int | None) -> str:
        """The content with `text` as paragraphs of its own at `cursor`, as the writer left it at `base_version`; if
        the text before the cursor moved since, at the end instead (never into the middle of a sentence)."""
        content = self.content
        if self.version != base_version and content[max(0, cursor - 200) : cursor] != before_cursor:
            cursor = len(content)
        before, after = content[:cursor], content[cursor:]
        joiner = "\n\n" if before and not before.endswith("\n") else ""
        return within_chapter_limit(
            before + joiner + text + ("\n\n" if after and not after.startswith("\n") else "") + after
        )

    def restore(self, revision, *, author=None):
        """Bring back an earlier revision as a new save; the text it replaces stays in history."""
        return self.save_content(
            revision.content,
            base_version=self.version,
            author=author,
            source=ChapterRevision.Source.RESTORE,
            note=f"Restored the version from {revision.created_at:%Y-%m-%d %H:%M}",
        )


# How autosaves are thinned as they age (every other kind of revision is kept): all from the last ten minutes, then
# the newest of each minute up to an hour old, of each ten minutes up to a day, of each hour up to 30 days, and of
# each day after that. The newest revision of a chapter is always the newest of its bucket, so it is always kept.
THINNING = """
DELETE FROM stories_chapterrevision WHERE id IN (
  SELECT id FROM (
    SELECT id, row_number() OVER (
      PARTITION BY chapter_id, CASE
        WHEN created_at > %(now)s - interval '1 hour' THEN date_trunc('minute', created_at)
        WHEN created_at > %(now)s - interval '1 day' THEN date_bin('10 minutes', created_at, timestamp '2000-01-01')
        WHEN created_at > %(now)s - interval '30 days' THEN date_trunc('hour', created_at)
        ELSE date_trunc('day', created_at)
      END
      ORDER BY created_at DESC, id DESC
    ) AS newest_first
    FROM stories_chapterrevision
    WHERE chapter_id = ANY(%(chapters)s) AND source = 'writer' AND note = ''
      AND created_at < %(now)s - interval '10 minutes'
  ) ranked
  WHERE newest_first > 1
)
"""


class ChapterRevisionQuerySet(models.QuerySet):
    def thin(self, chapter_ids, now=None) -> int:
        """Thin the autosaves of these chapters by age (THINNING); returns how many revisions were removed."""
        with connection.cursor() as cursor:
            cursor.execute(THINNING, {"now": now or timezone.now(), "chapters": list(chapter_ids)})
            return cursor.rowcount


class ChapterRevision(models.Model):
    class Source(models.TextChoices):
        WRITER = "writer", "Writer"
        AGENT = "agent", "AI agent"
        RESTORE = "restore", "Restore"
        IMPORT = "import", "Import"
        SUGGESTION = "suggestion", "Accepted suggestion"
        TOGETHER = "together", "Written together"

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="revisions")
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True)
    word_count = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WRITER)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ChapterRevisionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Revision history of one chapter, newest first.
            models.Index(fields=["chapter", "-created_at"], name="revision_chapter_created_idx"),
        ]

    def __str__(self):
        return f"{self.chapter} v{self.version}"


class WorldEntry(models.Model):
    class Kind(models.TextChoices):
        LOCATION = "location", "Location"
        LORE = "lore", "Lore"
        ITEM = "item", "Item"
        FACTION = "faction", "Faction"
        EVENT = "event", "Event"

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="world_entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=20000)
    time_period = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_json_object])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "world entries"
        ordering = ["kind", "name"]
        indexes = [
            # The world page lists a story's entries by kind and name.
            models.Index(fields=["story", "kind", "name"], name="world_story_kind_name_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.name}"

    def save(self, *args, **kwargs):
        validate_json_object(self.metadata)
        super().save(*args, **kwargs)


# Memberships and invitations live in their own module; imported here so Django registers them with the app.
from .feedback import Comment, Notification, Suggestion  # noqa: E402, F401
from .sharing import Role, StoryInvitation, StoryMembership  # noqa: E402, F401
from .together import DraftUpdate, SharedDraft  # noqa: E402, F401
