"""Character Cards in and out (interop/cards.py): import a card's JSON or PNG into the library (and a story's cast,
its lorebook into the story's world; interop/tasks.py reads it), export a character as a PNG card or as V2/V3 JSON."""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from characters.models import Character
from core import uploads
from core.bodylimit import accepts_upload
from core.http import optional_id
from core.models import Upload
from pictures.models import Picture
from stories.access import get_story_for_user

from . import cards


@accepts_upload("CARD_MAX_BYTES")
@login_required
@require_POST
def card_import(request):
    """A card's JSON or PNG into the library (and the story's cast, its lorebook into the story's world), read by
    a worker in the sandbox."""
    story_pk = optional_id(request.POST.get("story"), "story")
    story = get_story_for_user(request, story_pk) if story_pk else None
    back = reverse("story_cast", args=[story.pk]) if story else reverse("character_list")
    return uploads.accept(
        request, Upload.Kind.CARD, "card", settings.CARD_MAX_BYTES, "card",
        "a character card to import (.png or .json)", "interop.tasks.read_card",
        story=story.pk if story else None, back=back,
    )  # fmt: skip


@login_required
@require_POST
def card_update(request, pk):
    """A card imported again: the character it made updates the one the writer already had, and goes."""
    newer = get_object_or_404(Character.objects.for_user(request.user), pk=pk)
    earlier = newer.card_duplicate
    if earlier is None:
        raise Http404("There is no earlier character to update.")
    earlier.absorb(newer)
    messages.success(request, f"Updated {earlier.name} from the card.")
    return redirect(earlier)


@login_required
def card_export(request, pk, kind):
    character = get_object_or_404(Character.objects.for_user(request.user), pk=pk)
    if kind not in ("png", "v2", "v3"):
        raise Http404("Cards are exported as png, v2 or v3.")
    name = slugify(character.name) or "character"
    if kind == "png":
        portrait = Picture.objects.current_portraits([character]).get(character.pk)
        data = cards.to_png(character, portrait.image.read() if portrait else None)
        response = HttpResponse(data, content_type="image/png")
        response["Content-Disposition"] = f'attachment; filename="{name}.png"'
        return response
    version = 3 if kind == "v3" else 2
    body = json.dumps(cards.to_json(character, version), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.v{version}.json"'
    return response
