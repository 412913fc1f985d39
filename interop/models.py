"""What interop keeps between a writer's steps: a manuscript read and waiting to be split and imported."""

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from stories.models import ChapterRevision, Story

from .manuscript import stored_split


class ManuscriptImportQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(owner=user)

    def abandoned(self):
        """Uploads never imported, a day on: their text is only taking room."""
        return self.filter(imported_at__isnull=True, created_at__lt=timezone.now() - timedelta(days=1))


class ManuscriptImport(models.Model):
    """A manuscript a worker has read into text (headings as "# " lines), waiting for the writer to confirm how it
    splits into chapters; then the story it went into. The text and its splits (spans of the text, worked out once
    when it was read, a word the writer chooses once when first asked) are kept, so another split needs no new
    upload and a preview is never worked out again."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="manuscript_imports")
    filename = models.CharField(max_length=255)
    source_format = models.CharField(max_length=10)
    text = models.TextField()
    word_count = models.PositiveIntegerField(default=0)
    # {how: {"spans": [[title, start, end, note, words, opening], ...]} or {"refused": why}}
    splits = models.JSONField(default=dict, blank=True)
    # The writer's choice once they confirm (how, word, story, title); a worker then makes the chapters.
    requested = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)  # why the import stopped, for the writer
    story = models.ForeignKey(Story, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports")
    chapters_created = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    imported_at = models.DateTimeField(null=True, blank=True)

    objects = ManuscriptImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        db_table = "stories_manuscriptimport"  # the table it had when stories owned it

    def __str__(self):
        return self.filename

    def get_absolute_url(self):
        return reverse("manuscript_preview", args=[self.pk])

    @property
    def words(self) -> int:
        return self.word_count

    @property
    def default_title(self) -> str:
        return self.filename.rsplit(".", 1)[0] or self.filename

    @property
    def default_split(self) -> str:
        """The book's own table of contents when it has one; else headings, or chapter lines (a text file), when
        they find chapters; else headings."""

        def found(how):
            return len(self.splits.get(how, {}).get("spans", []))

        if found("contents"):
            return "contents"
        if found("headings") < 2 and found("chapter-lines") >= 2:
            return "chapter-lines"
        return "headings"

    @property
    def importing(self) -> bool:
        return bool(self.requested) and self.imported_at is None and not self.error

    def split_for(self, how: str, word: str = "") -> dict:
        """The stored split (spans or the reason it cannot be used); a split at a word the writer chose is worked
        out the first time it is asked for (linear in the text) and stored, the last few kept."""
        key = f"{how}:{word.strip().lower()}" if how in ("custom", "headings") and word.strip() else how
        if key not in self.splits:
            text = ManuscriptImport.objects.values_list("text", flat=True).get(pk=self.pk)
            customs = [k for k in self.splits if k.startswith("custom:")]
            kept = {k: v for k, v in self.splits.items() if k not in customs[: max(0, len(customs) - 4)]}
            self.splits = {**kept, key: stored_split(text, how, word)}
            ManuscriptImport.objects.filter(pk=self.pk).update(splits=self.splits)
        return self.splits[key]

    def request_import(self, how: str, word: str, story, title: str, leave_out=()) -> bool:
        """Record the writer's choice (with the parts, by position, left out), once; False when it was already
        made (a second click, another tab)."""
        requested = {"how": how, "word": word, "story": story.pk if story else None, "title": title,
                     "leave_out": sorted(set(leave_out))}  # fmt: skip
        done = ManuscriptImport.objects.filter(pk=self.pk, requested={}, imported_at__isnull=True).update(
            requested=requested, error=""
        )
        self.requested = requested if done else self.requested
        return bool(done)

    def import_into(self, parts, story=None, title: str = "") -> Story:
        """The chapters, after the story's last one (a new story when none is given), each saved with an
        "imported" revision; once only, even from two tabs."""
        with transaction.atomic():
            locked = ManuscriptImport.objects.select_for_update().get(pk=self.pk)
            if locked.imported_at is not None:
                raise ValueError("This manuscript was already imported.")
            if story is None:
                story = Story.objects.create(owner=self.owner, title=(title or self.default_title)[:200])
            for part in parts:
                story.append_chapter(
                    part.title, part.content, metadata={"import": self.pk}, revision_author=self.owner,
                    revision_source=ChapterRevision.Source.IMPORT, revision_note=f"Imported from {self.filename}",
                )  # fmt: skip
            # The text is in the chapters now; the import keeps only where it went.
            ManuscriptImport.objects.filter(pk=self.pk).update(
                story=story, chapters_created=len(parts), imported_at=timezone.now(), text="", splits={}
            )
        self.refresh_from_db()
        return story
