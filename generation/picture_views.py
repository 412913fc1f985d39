"""Asking for pictures: a character's portrait and a chapter's illustration run as tasks (live progress, cancel,
the writer's queue and a daily limit), and the story's gallery shows what was made."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from agents.team.kinds import IMAGE_MODES
from agents.team.requests import TaskRequest
from core.http import parse_id
from core.refusals import refusal, too_many
from pictures import making
from pictures.models import Picture
from stories.access import get_story_for_user

from .dispatch import ImagesOff, QueueFull, start_generation
from .forms import PictureRequestForm
from .live import panel_context
from .models import GenerationTask


def start_picture(request, story, mode, task_request, chapter=None):
    """The task's page (or its live panel for htmx), or a refusal that says why."""
    try:
        task = start_generation(request.user, story, mode, task_request, chapter=chapter)
    except ImagesOff as off:
        return refusal(request, 400, str(off))
    except QueueFull as full:
        return too_many(request, full.retry_after, str(full))
    if request.htmx:
        return render(request, "generation/_task.html#live", panel_context(task))
    return redirect(task)


@login_required
@require_POST
def portrait_request(request, story_pk, character_pk):
    story = get_story_for_user(request, story_pk)
    character = get_object_or_404(story.characters.all(), pk=character_pk)
    form = PictureRequestForm(request.POST)
    if not form.is_valid():
        return refusal(request, 400, "The note can be at most 500 characters.")
    task_request = TaskRequest(
        character=character.pk, note=form.cleaned_data["note"], new_look=form.cleaned_data["new_look"]
    )
    return start_picture(request, story, GenerationTask.Mode.PORTRAIT, task_request)


@login_required
@require_POST
def chapter_illustrate(request, story_pk, chapter_pk=None):
    """From the editor (the chapter in the address) or the gallery (the chapter chosen in the form)."""
    story = get_story_for_user(request, story_pk)
    chapter_pk = chapter_pk or parse_id(request.POST.get("chapter"), "chapter")
    chapter = get_object_or_404(story.chapters.all(), pk=chapter_pk)
    form = PictureRequestForm(request.POST)
    if not form.is_valid():
        return refusal(request, 400, "The note can be at most 500 characters.")
    if not chapter.content.strip():
        return refusal(request, 400, "There is nothing in this chapter to illustrate yet.")
    task_request = TaskRequest(note=form.cleaned_data["note"])
    return start_picture(request, story, GenerationTask.Mode.ILLUSTRATE, task_request, chapter=chapter)


@login_required
def story_gallery(request, story_pk):
    """The story's pictures: accepted illustrations by chapter, the cast's portraits, proposals waiting for the
    writer, and the pictures being made."""
    story = get_story_for_user(request, story_pk)
    pictures = Picture.objects.for_user(request.user).filter(story=story).select_related("chapter", "character")
    scenes = pictures.scenes().exclude(status=Picture.Status.DISCARDED).order_by("chapter__order", "-created_at")
    cast = list(story.characters.order_by("name"))
    portraits = Picture.objects.for_user(request.user).current_portraits(cast)
    waiting = (
        GenerationTask.objects.for_user(request.user)
        .filter(story=story, mode__in=IMAGE_MODES)
        .filter(status__in=["queued", "running"])
        .prefetch_related("steps")
    )
    pending = {t.picture_id: t for t in GenerationTask.objects.filter(
        story=story, picture__isnull=False, proposal_status=GenerationTask.Proposal.PENDING
    )}  # fmt: skip
    context = {
        "story": story,
        "section": "pictures",
        "scenes": [(scene, pending.get(scene.pk)) for scene in scenes],
        "cast": [(character, portraits.get(character.pk)) for character in cast],
        "chapters": story.chapters.only("pk", "title", "order"),
        "tasks": waiting,
        "images_available": making.available(),
        "how_to_enable": making.how_to_enable(),
    }
    return render(request, "generation/gallery.html", context)
