"""Background jobs (RQ) of pictures. Each takes an id and is safe to run twice."""

from django.conf import settings

from characters.models import Character
from core import uploads
from core.sandbox import Unreadable

from .images import load_clean
from .models import Picture


def read_portrait(upload_id):
    """Clean an uploaded portrait in the sandbox and make it the character's current one."""
    uploads.process(upload_id, _portrait_from)


def _portrait_from(upload) -> tuple[str, str]:
    character = Character.objects.for_user(upload.owner).filter(pk=upload.options.get("character")).first()
    if character is None:
        raise Unreadable("The character is no longer in your library.")
    limits = {"max_bytes": settings.PICTURE_MAX_BYTES, "max_pixels": settings.PICTURE_MAX_PIXELS}
    with uploads.read(upload, "pictures.images:read_upload", **limits) as result:
        cleaned = load_clean(result.value, result.file)
    Picture.store_clean(
        cleaned, owner=upload.owner, kind=Picture.Kind.PORTRAIT, character=character,
        status=Picture.Status.ACCEPTED, source=Picture.Source.UPLOADED, caption=character.name,
    )  # fmt: skip
    return f"Uploaded a portrait of {character.name}.", upload.options.get("back") or character.get_absolute_url()
