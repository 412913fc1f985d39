"""Importing a manuscript: upload (read at once, bounded), preview the split, confirm. Nothing is saved to a
story until the writer confirms; the chapters' memory and notes are then built in the background."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from storyassistant.http import optional_id, text_param, uploaded
from storyassistant.middleware import refusal

from . import manuscript
from .models import ManuscriptImport, Story

PREVIEW_CHARS = 200


@login_required
@require_http_methods(["GET", "POST"])
def manuscript_upload(request):
    """The upload form (into a new story, or after the chapters of `?story=`), and reading the file."""
    story_pk = optional_id(request.GET.get("story") or request.POST.get("story"), "story")
    story = get_object_or_404(Story.objects.owned_by(request.user), pk=story_pk) if story_pk else None
    if request.method == "GET":
        return render(request, "stories/import_upload.html", {"story": story, "formats": manuscript.FORMATS})
    upload, refused = uploaded(
        request, "manuscript", settings.MANUSCRIPT_MAX_BYTES, "file", "a file to import (.docx, .epub, .md or .txt)"
    )
    if refused:
        return refused
    try:
        text, kind = manuscript.read(upload.name, upload.read())
    except manuscript.ManuscriptError as exc:
        return refusal(request, 400, f"{exc} Nothing was imported.")
    imported = ManuscriptImport.objects.create(
        owner=request.user, filename=upload.name[:255], source_format=kind, text=text
    )
    url = imported.get_absolute_url() + (f"?story={story.pk}" if story else "")
    return redirect(url)


@login_required
@require_http_methods(["GET", "POST"])
def manuscript_preview(request, pk):
    """How the manuscript splits (the writer may choose another way), and where it goes; POST imports it."""
    imported = get_object_or_404(ManuscriptImport.objects.for_user(request.user), pk=pk)
    data = request.POST if request.method == "POST" else request.GET
    how = data.get("split") if data.get("split") in manuscript.SPLITS else "headings"
    word = text_param(data.get("word"), 100)
    parts = manuscript.split(imported.text, how, word)
    stories = Story.objects.owned_by(request.user).order_by("-updated_at").only("pk", "title")
    target_pk = optional_id(data.get("story"), "story")
    target = get_object_or_404(stories, pk=target_pk) if target_pk else None
    if request.method == "POST" and imported.imported_at is None:
        title = text_param(data.get("title"), 200)
        story = imported.import_into(parts, story=target, title=title)
        messages.success(
            request, f"Imported {len(parts)} chapter{'s' if len(parts) != 1 else ''} into “{story.title}”."
        )
        return redirect(imported)
    context = {
        "imported": imported,
        "parts": [{"title": p.title, "words": p.words, "start": p.content[:PREVIEW_CHARS]} for p in parts],
        "splits": manuscript.SPLITS,
        "split": how,
        "word": word,
        "stories": stories,
        "target": target,
        "story_chapters": target.chapters.count() if target else 0,
    }
    return render(request, "stories/import_preview.html", context)
