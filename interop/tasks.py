"""Background jobs (RQ) that read what writers bring: each file in the sandbox (core.uploads), then into
the writer's stories, library and world. Each takes an id and is safe to run twice."""

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from characters.models import Character, StoryCharacter
from core import uploads
from core.sandbox import Unreadable
from pictures.images import load_clean
from pictures.models import Picture
from stories.models import Story
from stories.text import count_words

from . import backup, lorebooks, manuscript
from .models import ManuscriptImport


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
    with uploads.read(upload, "interop.manuscript:read_upload", **bounds) as result:
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
    split = imported.split_for(choice["how"], choice.get("word", ""))
    parts = manuscript.from_stored(text, split, set(choice.get("leave_out", [])))
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
    with uploads.read(upload, "interop.lorebooks:read_upload", max_bytes=settings.LOREBOOK_MAX_BYTES) as result:
        kind, items = result.value["format"], result.value["entries"]
    added, skipped = story.add_lore(items)
    notes = [f"{skipped} already in the world were left as they are"] if skipped else []
    if split := sum(1 for item in items if (item["metadata"].get("part") or {}).get("number") == 1):
        notes.append(
            f"{split} entr{'y' if split == 1 else 'ies'} longer than {lorebooks.DESCRIPTION_MAX_CHARS:,} characters "
            "split into parts, joined again when you export"
        )
    note = f" ({'; '.join(notes)})" if notes else ""
    entries = f"{added} entr{'y' if added == 1 else 'ies'}"
    return f"Added {entries} from the {LOREBOOK_NAMES.get(kind, kind)} lorebook{note}.", reverse(
        "world_list", args=[story.pk]
    )


def read_card(upload_id):
    """Read an uploaded character card in the sandbox into the library (and the story's cast and world)."""
    uploads.process(upload_id, _character_from_card)


def _character_from_card(upload) -> tuple[str, str]:
    story = None
    if upload.options.get("story"):
        story = Story.objects.for_user(upload.owner).filter(pk=upload.options["story"]).first()
        if story is None:
            raise Unreadable("The story is no longer yours to add to (deleted or hidden).")
    limits = {"max_bytes": settings.CARD_MAX_BYTES, "max_picture_bytes": settings.PICTURE_MAX_BYTES,
              "max_pixels": settings.PICTURE_MAX_PIXELS,
              "lorebook_bytes": settings.LOREBOOK_MAX_BYTES if story else None}  # fmt: skip
    with uploads.read(upload, "interop.cards:read_upload", **limits) as result:
        card = result.value
        portrait = load_clean(card["portrait"], result.file) if card["portrait"] else None
    earlier = Character.objects.for_user(upload.owner).filter(name__iexact=card["fields"]["name"]).first()
    attributes = {"card": card["kept"], "card_spec": card["spec"]}
    if card.get("overflow"):
        attributes["card_overflow"] = card["overflow"]
    if earlier is not None:  # the page offers to update that one from this card instead of keeping both
        attributes["card_duplicate_of"] = earlier.pk
    with transaction.atomic():
        character = Character.objects.create(owner=upload.owner, attributes=attributes, **card["fields"])
        added = 0
        if story is not None:
            StoryCharacter.objects.create(story=story, character=character)
            added, _ = story.add_lore(card["lore"])
        if portrait:  # last: the portrait's files are written only when the rest is in place
            Picture.store_clean(
                portrait, owner=upload.owner, kind=Picture.Kind.PORTRAIT, character=character,
                status=Picture.Status.ACCEPTED, source=Picture.Source.UPLOADED, caption=character.name,
            )  # fmt: skip
    message = f"Imported {character.name} from a character card."
    if earlier is not None:
        message += f" You already had a {earlier.name}: its page offers to update that one from this card instead."
    if card.get("portrait_note"):
        message += f" {card['portrait_note']}"
    if card["lore"]:
        skipped = len(card["lore"]) - added
        message += f" Its lorebook added {added} entr{'y' if added == 1 else 'ies'} to the story's world"
        message += f" ({skipped} with names the world already has were left as they are)." if skipped else "."
    if story and earlier is None:
        return message, reverse("story_cast", args=[story.pk])
    return message, character.get_absolute_url()


def read_backup(upload_id):
    """Restore an uploaded backup (a story's or a whole account's) for its owner."""
    uploads.process(upload_id, backup.restore_upload)


def clear_abandoned():
    """Manuscripts read a day ago and never imported: their text is only taking room (maintenance runs this)."""
    return ManuscriptImport.objects.abandoned().delete()
