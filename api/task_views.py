"""The JSON API's generation tasks: ask for a chapter, a continuation, a check or a picture, follow the task,
cancel it, fetch its picture. Authenticate with the browser session (POSTs then need the CSRF token, like any form)
or with `Authorization: Bearer <token>` (no cookies, so no CSRF): api/http.py."""

from django.http import JsonResponse
from django.urls import reverse

from agents.team.requests import TaskRequest, covers_text
from core.refusals import too_many
from generation import live
from generation.dispatch import QueueFull, estimate_seconds, place_in_line, start_generation
from generation.models import GenerationTask
from pictures.models import Picture
from pictures.views import serve
from stories.access import WRITE

from .http import Conflict, Missing, api_view, body, owned, story_for
from .schema import ContinuityIn, GenerateIn


def task_status(task: GenerationTask) -> dict:
    position = place_in_line(task)
    return {
        "task_id": str(task.pk),
        "status": task.status,
        "progress": task.progress,
        "current_agent": task.current_agent or None,
        "partial_result": live.current_text(task),
        "place_in_line": position,
        "estimated_start_seconds": estimate_seconds(position),
        "error": task.error or None,
        "proposal_status": task.proposal_status or None,
        "quality": task.quality.verdict if task.quality else None,
        **(check_result(task) if task.mode == GenerationTask.Mode.CHECK else {}),
        **(picture_result(task) if task.makes_picture else {}),
    }


def picture_result(task: GenerationTask) -> dict:
    """A portrait's or illustration's picture, once made: where to fetch it (token or session) and how it was made."""
    picture = task.picture
    if picture is None:
        return {"picture": None}
    return {
        "picture": {
            "id": str(picture.pk), "url": reverse("api_picture", args=[picture.pk, "image"]),
            "thumbnail_url": reverse("api_picture", args=[picture.pk, "thumbnail"]),
            "width": picture.width, "height": picture.height, "seed": picture.seed, "service": picture.service,
            "prompt": picture.prompt, "status": picture.status,
        }
    }  # fmt: skip


def check_result(task: GenerationTask) -> dict:
    """A continuity check's findings (offsets are code points into the chapter as it was checked) and which
    checks ran."""
    report = task.quality
    if report is None:
        return {"findings": [], "checks": []}
    return {
        "scope": report.scope,
        "findings": [f.model_dump(mode="json") for f in report.findings],
        "checks": [c.model_dump(mode="json") for c in report.checks],
    }


def task_request_of(asked, story, chapter) -> TaskRequest:
    """The agents' request for what the API was asked: names must be in the story's cast (else a 404), and a
    selection must cover text of the chapter as it is now (else a 409: the chapter may have changed)."""
    cast = set(story.characters.values_list("name", flat=True))
    unknown = [name for name in getattr(asked, "characters", []) if name not in cast]
    if unknown:
        raise Missing(f"No such character in this story's cast: {', '.join(unknown)}.")
    selection = None
    if asked.mode == GenerationTask.Mode.REWRITE:
        start, end = sorted((asked.selection_start, asked.selection_end))  # a selection may be made backwards
        if not covers_text(start, end, chapter.content):
            raise Conflict(
                f"The selection covers no text of the chapter as it is now ({len(chapter.content)} characters, "
                f"version {chapter.version}): nothing was asked.", current_version=chapter.version,
            )  # fmt: skip
        selection = (start, end)
    return TaskRequest.about(
        chapter, cursor=getattr(asked, "cursor", None), selection=selection, note=asked.note,
        chapter_title=getattr(asked, "chapter_title", ""), characters=getattr(asked, "characters", []),
    )  # fmt: skip


def started(request, story, mode, task_request, chapter) -> JsonResponse:
    try:
        task = start_generation(request.user, story, mode, task_request, chapter=chapter)
    except QueueFull as full:
        return too_many(request, full.retry_after, str(full))
    return JsonResponse({"task_id": str(task.pk), "status": task.status}, status=202)


@api_view(["POST"])
def generate_content(request, story_pk):
    story = story_for(request, story_pk, WRITE)
    asked = body(request, GenerateIn).root
    chapter = None
    if asked.chapter_id is not None:
        chapter = owned(story.chapters, "chapter in this story", pk=asked.chapter_id)
    return started(request, story, asked.mode, task_request_of(asked, story, chapter), chapter)


@api_view(["GET"])
def status(request, pk):
    task = owned(GenerationTask.objects.for_user(request.user), "task", pk=pk)
    return JsonResponse(task_status(task))


@api_view(["POST"])
def cancel(request, pk):
    task = owned(GenerationTask.objects.for_user(request.user), "task", pk=pk)
    task.request_cancel()
    return JsonResponse(task_status(task))


@api_view(["POST"])
def check_continuity(request, story_pk, chapter_pk):
    """Check a chapter (or `selection_start`..`selection_end` of it) against everything before it; poll the task's
    status, whose `findings` list what was found."""
    story = story_for(request, story_pk, WRITE, "chapter")
    chapter = owned(story.chapters, "chapter", pk=chapter_pk)
    asked = body(request, ContinuityIn)
    start, end = asked.selection_start, asked.selection_end
    selected = covers_text(start, end, chapter.content)
    task_request = TaskRequest.about(chapter, selection=(start, end) if selected else None)
    return started(request, story, GenerationTask.Mode.CHECK, task_request, chapter)


@api_view(["GET"])
def picture(request, pk, variant):
    """A picture's file (or its WebP thumbnail), to its owner."""
    found = owned(Picture.objects.for_user(request.user), "picture", pk=pk)
    return serve(found, variant)
