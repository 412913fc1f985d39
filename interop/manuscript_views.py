"""Importing a manuscript: upload (stored, then read by a worker in the sandbox), preview the split, confirm (a
worker makes the chapters). Nothing is saved to a story until the writer confirms; the chapters' memory and notes
are then built in the background."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from core import uploads
from core.bodylimit import accepts_upload
from core.http import optional_id, text_param
from core.models import Upload
from core.queues import enqueue_after_commit
from core.refusals import refusal
from stories.models import Story

from . import manuscript, tasks
from .models import ManuscriptImport


@accepts_upload("MANUSCRIPT_MAX_BYTES")
@login_required
@require_http_methods(["GET", "POST"])
def manuscript_upload(request):
    """The upload form (into a new story, or after the chapters of `?story=`), and receiving the file."""
    story_pk = optional_id(request.GET.get("story") or request.POST.get("story"), "story")
    story = get_object_or_404(Story.objects.for_user(request.user), pk=story_pk) if story_pk else None
    if request.method == "GET":
        return render(request, "stories/import_upload.html", {"story": story, "formats": manuscript.FORMATS})
    return uploads.accept(
        request, Upload.Kind.MANUSCRIPT, "manuscript", settings.MANUSCRIPT_MAX_BYTES, "file",
        "a file to import (.docx, .epub, .md or .txt)", "interop.tasks.read_manuscript",
        story=story.pk if story else None, back=request.get_full_path(),
    )  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def manuscript_preview(request, pk):
    """How the manuscript splits (the writer may choose another way), and where it goes; POST imports it."""
    imported = get_object_or_404(ManuscriptImport.objects.for_user(request.user).defer("text"), pk=pk)
    data = request.POST if request.method == "POST" else request.GET
    how = data.get("split") if data.get("split") in manuscript.SPLITS else imported.default_split
    word = text_param(data.get("word"), 100)
    if how == "headings":  # the heading level chapters start at, when the writer chose one
        word = data.get("level") if data.get("level") in ("1", "2", "3", "4", "5", "6") else ""
    stories = Story.objects.for_user(request.user).order_by("-updated_at").only("pk", "title")
    target_pk = optional_id(data.get("story"), "story")
    target = get_object_or_404(stories, pk=target_pk) if target_pk else None
    split = imported.split_for(how, word) if imported.imported_at is None else {}
    if request.method == "POST" and imported.imported_at is None:
        if "refused" in split:
            return refusal(request, 400, split["refused"])
        count = len(split.get("spans", []))
        leave_out = {int(i) for i in data.getlist("leave_out") if i.isdigit() and int(i) < count}
        if len(leave_out) == count:
            return refusal(request, 400, "Every part is left out: keep at least one to import.")
        if imported.request_import(how, word, target, text_param(data.get("title"), 200), leave_out):
            enqueue_after_commit(tasks.import_manuscript, imported.pk, queue="background")
        return redirect(imported)
    context = {
        "imported": imported,
        "parts": [
            {"title": row[0], "note": row[3], "words": row[4], "start": row[5], "matter": row[6:7] == [True]}
            for row in split.get("spans", [])
        ],
        "refused": split.get("refused", ""),
        "level": split.get("level"),
        "levels": split.get("levels", []),
        "splits": manuscript.SPLITS,
        "split": how,
        "word": word,
        "stories": stories,
        "target": target,
        "story_chapters": target.chapters.count() if target else 0,
    }
    return render(request, "stories/import_preview.html", context)
