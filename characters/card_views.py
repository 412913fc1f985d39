"""Character Cards in and out (characters/cards.py): import a card's JSON or PNG into the library (and a story's
cast, its lorebook into the story's world), export a character as a PNG card or as V2/V3 JSON."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from pictures.images import PictureRejected
from pictures.models import Picture
from stories import lorebooks
from stories.access import get_story_for_user
from storyassistant.bodylimit import accepts_upload
from storyassistant.http import optional_id, uploaded
from storyassistant.middleware import refusal

from . import cards
from .models import Character, StoryCharacter


@accepts_upload("CARD_MAX_BYTES")
@login_required
@require_POST
def card_import(request):
    story_pk = optional_id(request.POST.get("story"), "story")
    story = get_story_for_user(request, story_pk) if story_pk else None
    upload, refused = uploaded(request, "card", cards.MAX_BYTES, "card", "a character card to import (.png or .json)")
    if refused:
        return refused
    try:
        card = cards.read(upload.read())
    except cards.CardError as exc:
        return refusal(request, 400, f"{exc} Nothing was imported.")
    book = card.kept.get("character_book")
    try:
        # The lorebook is read before anything is saved, so a broken one leaves nothing behind.
        items = (
            lorebooks.parse(json.dumps(book).encode())[1]
            if story and isinstance(book, dict) and book.get("entries")
            else []
        )
        with transaction.atomic():
            character = Character.objects.create(
                owner=request.user, attributes={"card": card.kept, "card_spec": card.spec}, **card.fields
            )
            if story is not None:
                StoryCharacter.objects.create(story=story, character=character)
                added, _ = lorebooks.import_into(story, items)
            if card.image:  # last: the portrait's files are written only when the rest is in place
                Picture.store(
                    card.image, owner=request.user, kind=Picture.Kind.PORTRAIT, character=character,
                    status=Picture.Status.ACCEPTED, source=Picture.Source.UPLOADED, caption=character.name,
                )  # fmt: skip
    except (PictureRejected, lorebooks.LorebookError) as exc:
        return refusal(request, 400, f"{exc} Nothing was imported.")
    messages.success(request, f"Imported {character.name} from a character card.")
    if items:
        messages.info(request, f"Its lorebook added {added} entries to the story's world.")
    return redirect("story_cast", story.pk) if story else redirect(character)


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
