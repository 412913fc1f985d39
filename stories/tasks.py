"""Background jobs (RQ) of the writer's own data. Each takes an id and is safe to run twice or after the row is
gone."""

from django.conf import settings
from django.urls import reverse

from storyassistant import uploads
from storyassistant.sandbox import Unreadable

from . import manuscript
from .models import ChapterRevision, ManuscriptImport, Story
from .text import count_words


def thin_revisions(chapter_id: int):
    """Thin the chapter's older autosaves (ChapterRevision.objects.thin) after the writer saved it."""
    return ChapterRevision.objects.thin([chapter_id])


def read_manuscript(upload_id):
    """Read an uploaded manuscript in the sandbox into a ManuscriptImport the writer previews."""
    uploads.process(upload_id, _manuscript_from)


def _manuscript_from(upload) -> tuple[str, str]:
    bounds = {
        "filename": upload.filename,
        "max_bytes": settings.MANUSCRIPT_MAX_BYTES,
        "max_unzipped": settings.MANUSCRIPT_MAX_UNZIPPED,
        "max_chars": settings.MANUSCRIPT_MAX_CHARS,
    }
    with uploads.read(upload, "stories.manuscript:read_upload", **bounds) as result:
        text = result.file("text.md").read_text(encoding="utf-8")
    if len(text) > settings.MANUSCRIPT_MAX_CHARS or result.value.get("format") not in manuscript.FORMATS:
        raise Unreadable("The file could not be read.")
    words = count_words(text)
    imported = ManuscriptImport.objects.create(
        owner=upload.owner, filename=upload.filename, source_format=result.value["format"], text=text,
        word_count=words, splits=result.value["splits"],
    )  # fmt: skip
    story = upload.options.get("story")
    url = imported.get_absolute_url() + (f"?story={story}" if story else "")
    return f"Read {words:,} words from “{upload.filename}”.", url


def import_manuscript(import_id: int):
    """Make the chapters the writer confirmed (ManuscriptImport.requested); once only."""
    imported = ManuscriptImport.objects.filter(pk=import_id, imported_at__isnull=True).exclude(requested={}).first()
    if imported is None:
        return
    choice = imported.requested
    story = None
    if choice.get("story"):
        story = Story.objects.for_user(imported.owner).filter(pk=choice["story"]).first()
        if story is None:
            ManuscriptImport.objects.filter(pk=import_id).update(
                error="The story you chose is no longer yours to add to (deleted or hidden). Nothing was imported."
            )
            return
    text = imported.text
    parts = manuscript.from_stored(text, imported.split_for(choice["how"], choice.get("word", "")))
    try:
        imported.import_into(parts, story=story, title=choice.get("title", ""))
    except ValueError:
        return  # imported meanwhile


LOREBOOK_NAMES = {"sillytavern": "SillyTavern", "novelai": "NovelAI", "character_book": "character card"}


def read_lorebook(upload_id):
    """Read an uploaded lorebook in the sandbox into the story's world."""
    uploads.process(upload_id, _lorebook_into_world)


def _lorebook_into_world(upload) -> tuple[str, str]:
    story = Story.objects.for_user(upload.owner).filter(pk=upload.options.get("story")).first()
    if story is None:
        raise Unreadable("The story is no longer yours to add to (deleted or hidden).")
    with uploads.read(upload, "stories.lorebooks:read_upload", max_bytes=settings.LOREBOOK_MAX_BYTES) as result:
        kind, items = result.value["format"], result.value["entries"]
    added, skipped = story.add_lore(items)
    note = f" ({skipped} already in the world were left as they are)" if skipped else ""
    return f"Added {added} entries from the {LOREBOOK_NAMES.get(kind, kind)} lorebook{note}.", reverse(
        "world_list", args=[story.pk]
    )
