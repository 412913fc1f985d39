"""A story's world in and out as a lorebook: SillyTavern World Info, NovelAI or a card's character_book in (read by
a worker in the sandbox), World Info out."""

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from core import uploads
from core.bodylimit import accepts_upload
from core.models import Upload
from stories.access import WRITE, get_story_for_user

from . import lorebooks


@accepts_upload("LOREBOOK_MAX_BYTES")
@login_required
@require_POST
def lorebook_import(request, story_pk):
    """A SillyTavern World Info JSON, a NovelAI .lorebook or a card's character_book, into the story's world (read
    by a worker in the sandbox)."""
    story = get_story_for_user(request, story_pk, WRITE)
    return uploads.accept(
        request, Upload.Kind.LOREBOOK, "lorebook", settings.LOREBOOK_MAX_BYTES, "lorebook",
        "a lorebook to import (.json or .lorebook)", "interop.tasks.read_lorebook", story=story.pk,
        back=reverse("world_list", args=[story.pk]),
    )  # fmt: skip


@login_required
def lorebook_export(request, story_pk):
    """The story's world as SillyTavern World Info JSON (keys and all)."""
    story = get_story_for_user(request, story_pk, WRITE)
    book = lorebooks.to_sillytavern(story.world_entries.order_by("pk"))
    response = HttpResponse(json.dumps(book, ensure_ascii=False, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{slugify(story.title) or "story"}.world-info.json"'
    return response
