"""The chapter editor: autosave with conflict detection, chapter list management and revision history."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from core.http import optional_id, paginate, parse_id
from core.ratelimit import limit

from .access import READ, WRITE, get_chapter_for_user, get_story_for_user
from .diff import word_diff
from .feedback import marked, review_context
from .forms import ChapterSaveForm, ChapterTitleForm
from .models import ChapterConflict
from .tasks import bring_into_live_document

REVISIONS_PER_PAGE = 50


def workspace_context(story, chapter=None, **extra) -> dict:
    """What every workspace page shows: the sidebar's chapter list (without texts) and the word totals."""
    chapters = list(story.chapters.only("pk", "title", "order", "word_count", "status", "story_id"))
    return {
        "story": story,
        "chapters": chapters,
        "chapter": chapter,
        "story_words": sum(c.word_count for c in chapters),
        "section": "write",
        **extra,
    }


@login_required
@require_POST
def chapter_create(request, story_pk):
    story = get_story_for_user(request, story_pk, WRITE)
    form = ChapterTitleForm(request.POST)
    chapter = story.append_chapter(form.cleaned_data["title"] if form.is_valid() else None)
    return redirect(chapter)


@login_required
def chapter_edit(request, story_pk, pk):
    chapter = get_chapter_for_user(request, story_pk, pk, READ, editor=True)
    form = ChapterSaveForm(
        initial={"title": chapter.title, "content": chapter.content, "base_version": chapter.version}
    )
    # ?at=&end= (character offsets) opens the editor with that passage selected, e.g. from a search result.
    at, end = request.GET.get("at", ""), request.GET.get("end", "")
    selection = (int(at), int(end)) if at.isdigit() and end.isdigit() else None
    # A shared story's chapters are written together (live, through stories.consumers); others autosave as before.
    cowrite = chapter.story_shared
    context = workspace_context(chapter.story, chapter, form=form, selection=selection, cowrite=cowrite)
    if cowrite or chapter.has_review:
        context |= review_context(chapter, request.user)
    return render(request, "stories/chapter_edit.html", context)


@login_required
def chapter_changes(request, story_pk, pk):
    """The chapter with its open suggestions shown in the text (the passage struck out, the proposed words after
    it) and the passages of its open comments marked, to read a review through; writers accept or reject here."""
    chapter = get_chapter_for_user(request, story_pk, pk, READ, editor=True)
    review = review_context(chapter, request.user)
    open_threads = [thread for thread in review["threads"] if not thread.resolved_at]
    pieces = marked(chapter.content, review["suggestions"] + open_threads)
    context = workspace_context(chapter.story, chapter, pieces=pieces, open_threads=open_threads)
    return render(request, "stories/chapter_changes.html", review | context)


@login_required
@require_POST
@limit("save", "SAVES_PER_MINUTE", 60, "Too many saves in a minute. Your text is kept in the editor; retrying.")
def chapter_save(request, story_pk, pk):
    """Autosave target. Saves only if the text is based on the stored version; a stale save is refused with
    409 and its text is kept as an unapplied revision, so neither tab's words are lost."""
    chapter = get_chapter_for_user(request, story_pk, pk, WRITE)
    form = ChapterSaveForm(request.POST)
    if not form.is_valid():
        status = 413 if form.has_error("content", "too_long") else 400
        return _save_response(request, workspace_context(chapter.story, chapter, form=form), status=status)
    data = form.cleaned_data
    # The answer is read before saving: once the save commits nothing else may fail (a database restart), or the
    # editor would think it had not saved and retry from the old version into a conflict.
    other_words = chapter.story.chapters.exclude(pk=chapter.pk).aggregate(total=Sum("word_count"))["total"] or 0
    try:
        saved = chapter.save_content(
            data["content"], base_version=data["base_version"], author=request.user, title=data["title"]
        )
    except ChapterConflict as conflict:
        chapter.keep_conflicting_text(data["content"], base_version=data["base_version"], author=request.user)
        context = workspace_context(chapter.story, chapter, form=form, conflict=conflict.chapter)
        return _save_response(request, context, status=409)
    if not request.htmx:  # a page without JavaScript (the live editor needs it): others may be writing live
        bring_into_live_document(saved.pk)
        messages.success(request, "Saved.")
        return redirect(saved)
    context = {"story": chapter.story, "chapter": saved, "form": form, "saved": True,
               "story_words": other_words + saved.word_count}  # fmt: skip
    return render(request, "stories/chapter_edit.html#save_result", context)


def _save_response(request, context, status):
    template = "stories/chapter_edit.html#save_result" if request.htmx else "stories/chapter_edit.html"
    return render(request, template, context, status=status)


@login_required
@require_POST
def chapter_rename(request, story_pk, pk):
    chapter = get_chapter_for_user(request, story_pk, pk, WRITE)
    form = ChapterTitleForm(request.POST)
    if form.is_valid():
        chapter.title = form.cleaned_data["title"]
        chapter.save(update_fields=["title", "updated_at"])
    else:
        messages.error(request, "A chapter needs a title.")
    return _chapter_list_response(request, chapter.story, chapter)


@login_required
@require_POST
def chapter_move(request, story_pk, pk):
    chapter = get_chapter_for_user(request, story_pk, pk, WRITE)
    chapter.move(-1 if request.POST.get("direction") == "up" else 1)
    return _chapter_list_response(request, chapter.story, chapter)


@login_required
@require_POST
def chapter_reorder(request, story_pk):
    """Drag and drop sends every chapter id in its new order."""
    story = get_story_for_user(request, story_pk, WRITE)
    try:
        story.reorder_chapters([parse_id(pk, "chapter") for pk in request.POST.getlist("chapter")])
    except ValidationError:
        messages.error(request, "That order did not match the story's chapters; nothing was moved.")
    current = story.chapters.filter(pk=optional_id(request.POST.get("current"), "chapter")).first()
    return _chapter_list_response(request, story, current)


def _chapter_list_response(request, story, chapter):
    if request.htmx:
        return render(request, "stories/_workspace.html#chapter_list", workspace_context(story, chapter))
    return redirect(chapter or story)


@login_required
@require_http_methods(["GET", "POST"])
def chapter_delete(request, story_pk, pk):
    chapter = get_chapter_for_user(request, story_pk, pk)
    if request.method == "POST":
        story = chapter.story
        chapter.delete()
        remaining = list(story.chapters.values_list("pk", flat=True))
        if remaining:
            story.reorder_chapters(remaining)  # close the gap in the numbering
        messages.success(request, f"Deleted “{chapter.title}”.")
        url = reverse("story_detail", args=[story.pk])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return render(request, "stories/chapter_confirm_delete.html", workspace_context(chapter.story, chapter))


@login_required
def revision_list(request, story_pk, pk):
    chapter = get_chapter_for_user(request, story_pk, pk, READ)
    revisions = paginate(request, chapter.revisions.select_related("author").defer("content"), REVISIONS_PER_PAGE)
    return render(
        request,
        "stories/revision_list.html",
        workspace_context(chapter.story, chapter, revisions=revisions, section="history"),
    )


@login_required
def revision_detail(request, story_pk, pk, revision_pk):
    chapter = get_chapter_for_user(request, story_pk, pk, READ)
    revision = _get_revision(chapter, revision_pk)
    diff, stats = word_diff(chapter.content, revision.content)
    context = workspace_context(chapter.story, chapter, revision=revision, diff=diff, stats=stats, section="history")
    return render(request, "stories/revision_detail.html", context)


@login_required
@require_POST
def revision_restore(request, story_pk, pk, revision_pk):
    chapter = get_chapter_for_user(request, story_pk, pk, WRITE)
    revision = _get_revision(chapter, revision_pk)
    chapter.restore(revision, author=request.user)
    messages.success(
        request,
        f"Restored the version from {revision.created_at:%d %b %Y, %H:%M}. The text it "
        "replaced is kept in the history.",
    )
    return redirect(chapter)


def _get_revision(chapter, revision_pk):
    revision = chapter.revisions.filter(pk=revision_pk).first()
    if revision is None:
        raise Http404("No such revision.")
    return revision
