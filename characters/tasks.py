"""Background jobs (RQ) of the writer's characters. Each takes an id and is safe to run twice."""

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from pictures.images import load_clean
from pictures.models import Picture
from stories.models import Story
from storyassistant import uploads
from storyassistant.sandbox import Unreadable

from .models import Character, StoryCharacter


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
    with uploads.read(upload, "characters.cards:read_upload", **limits) as result:
        card = result.value
        portrait = load_clean(card["portrait"], result.file) if card["portrait"] else None
    with transaction.atomic():
        character = Character.objects.create(
            owner=upload.owner, attributes={"card": card["kept"], "card_spec": card["spec"]}, **card["fields"]
        )
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
    if card["lore"]:
        message += f" Its lorebook added {added} entries to the story's world."
    return message, reverse("story_cast", args=[story.pk]) if story else character.get_absolute_url()
