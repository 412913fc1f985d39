"""The JSON API for programs. Authenticate with the browser session (POSTs then need the CSRF token, like any
form) or with `Authorization: Bearer <token>` (no cookies, so no CSRF)."""

import json
from functools import wraps

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from pictures.models import Picture
from pictures.views import serve
from stories.models import Story
from storyassistant.http import parse_id
from storyassistant.ratelimit import hit, too_many

from . import live
from .dispatch import QueueFull, estimate_seconds, place_in_line, start_generation
from .forms import GenerateForm
from .models import ApiToken, GenerationTask


def error(status, message, **extra):
    return JsonResponse({"error": message, **extra}, status=status)


def api_view(methods):
    def decorator(view):
        @csrf_exempt  # enforced below for session-authenticated requests only
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                return error(405, f"Use {' or '.join(methods)}.")
            header = request.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                user = ApiToken.authenticate(header.removeprefix("Bearer ").strip())
                if user is None:
                    return error(401, "Invalid or revoked API token.")
                request.user = user
            elif request.user.is_authenticated:
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                    if rejected is not None:
                        return error(403, "CSRF check failed: send the X-CSRFToken header, or use an API token.")
            else:
                return error(401, "Sign in or send an API token (Authorization: Bearer …).")
            retry_after = hit(f"api:user:{request.user.pk}", settings.API_REQUESTS_PER_MINUTE, 60)
            if retry_after is not None:
                return too_many(request, retry_after, f"At most {settings.API_REQUESTS_PER_MINUTE} requests a minute.")
            try:
                return view(request, *args, **kwargs)
            except BadRequest as exc:
                return error(400, str(exc))

        return wrapped

    return decorator


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


def request_data(request) -> dict:
    if request.content_type != "application/json":
        return request.POST.dict()
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("Send a JSON object.")
    return data


@api_view(["POST"])
def generate_content(request, story_pk):
    story = Story.objects.for_user(request.user).filter(pk=story_pk).first()
    if story is None:
        return error(404, "No such story.")
    data = request_data(request)
    chapter = None
    if data.get("chapter_id"):
        chapter = story.chapters.filter(pk=parse_id(data["chapter_id"], "chapter_id")).first()
        if chapter is None:
            return error(404, "No such chapter in this story.")
    fields = {k: v for k, v in data.items() if k != "characters"}
    form = GenerateForm(fields, story=story, chapter=chapter)
    if data.get("characters"):
        form.data = {**fields, "characters": data["characters"]}
    if not form.is_valid():
        return error(400, "Invalid request.", fields=form.errors.get_json_data())
    try:
        task = start_generation(request.user, story, form.cleaned_data["mode"], form.task_request(), chapter=chapter)
    except QueueFull as full:
        return too_many(request, full.retry_after, str(full))
    return JsonResponse({"task_id": str(task.pk), "status": task.status}, status=202)


@api_view(["GET"])
def status(request, pk):
    task = GenerationTask.objects.for_user(request.user).filter(pk=pk).first()
    if task is None:
        return error(404, "No such task.")
    return JsonResponse(task_status(task))


@api_view(["POST"])
def cancel(request, pk):
    task = GenerationTask.objects.for_user(request.user).filter(pk=pk).first()
    if task is None:
        return error(404, "No such task.")
    task.request_cancel()
    return JsonResponse(task_status(task))


@api_view(["POST"])
def check_continuity(request, story_pk, chapter_pk):
    """Check a chapter (or `selection_start`..`selection_end` of it) against everything before it; poll the task's
    status, whose `findings` list what was found."""
    story = Story.objects.for_user(request.user).filter(pk=story_pk).first()
    chapter = story.chapters.filter(pk=chapter_pk).first() if story else None
    if chapter is None:
        return error(404, "No such chapter.")
    data = request_data(request)
    fields = {k: data[k] for k in ("selection_start", "selection_end") if data.get(k) is not None}
    form = GenerateForm({**fields, "mode": GenerationTask.Mode.CHECK}, story=story, chapter=chapter)
    if not form.is_valid():
        return error(400, "Invalid request.", fields=form.errors.get_json_data())
    try:
        task = start_generation(request.user, story, GenerationTask.Mode.CHECK, form.task_request(), chapter=chapter)
    except QueueFull as full:
        return too_many(request, full.retry_after, str(full))
    return JsonResponse({"task_id": str(task.pk), "status": task.status}, status=202)


@api_view(["GET"])
def picture(request, pk, variant):
    """A picture's file (or its WebP thumbnail), to its owner."""
    found = Picture.objects.for_user(request.user).filter(pk=pk).first()
    if found is None:
        return error(404, "No such picture.")
    return serve(found, variant)
