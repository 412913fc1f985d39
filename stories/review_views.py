"""The chapter's review panel: comments anchored to passages (with replies, resolved by the writers or their
author) and suggested replacements the writers accept or reject; and the notifications they send."""

from dataclasses import asdict

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.http import next_url, text_param
from core.ratelimit import limit
from core.refusals import refusal

from . import cowrite
from .access import COMMENT, READ, SUGGEST, WRITE, get_chapter_for_user
from .anchors import CONTEXT_CHARS, QUOTE_MAX_CHARS, Anchor
from .feedback import (
    BODY_MAX_CHARS,
    REPLACEMENT_MAX_CHARS,
    Comment,
    Notification,
    Suggestion,
    chapter_url,
    notify,
    review_context,
    writers_of,
)

TOO_MANY = "Too many comments and suggestions in a minute. Yours is still in the box; send it again shortly."
NOTIFICATIONS_PER_PAGE = 50


def _panel(request, chapter, status=200):
    """After a change: the panel again, and the chapter's other open pages are told to reload theirs."""
    transaction.on_commit(lambda: cowrite.tell_review(chapter.pk, request.user.pk))
    if not request.htmx:  # a plain form: back to the page it came from (the chapter, or its changes)
        return redirect(next_url(request) or chapter)
    return render(request, "stories/_review.html", review_context(chapter, request.user), status=status)


def _anchor(request) -> Anchor:
    """The passage the writer selected, as their editor shows it (it may hold typing not yet saved)."""
    quote = request.POST.get("quote", "")
    if not quote.strip():
        raise ValueError("Select a passage first.")
    if len(quote) > QUOTE_MAX_CHARS:
        raise ValueError(f"Select at most {QUOTE_MAX_CHARS:,} characters.")
    start = request.POST.get("start", "")
    return Anchor(
        quote,
        request.POST.get("prefix", "")[-CONTEXT_CHARS:],
        request.POST.get("suffix", "")[:CONTEXT_CHARS],
        int(start) if start.isdigit() and len(start) < 10 else 0,
    )


@login_required
def review_panel(request, story_pk, pk):
    chapter = get_chapter_for_user(request, story_pk, pk, READ, editor=True)
    return render(request, "stories/_review.html", review_context(chapter, request.user))


@login_required
@require_POST
@limit("comment", "COMMENTS_PER_MINUTE", 60, TOO_MANY)
def comment_add(request, story_pk, pk):
    chapter = get_chapter_for_user(request, story_pk, pk, COMMENT, editor=True)
    if len(request.POST.get("body", "")) > BODY_MAX_CHARS:
        return refusal(request, 413, f"A comment can be at most {BODY_MAX_CHARS:,} characters.")
    body = text_param(request.POST.get("body"), BODY_MAX_CHARS)
    if not body:
        return refusal(request, 400, "Write the comment first.")
    parent = None
    if request.POST.get("parent", "").isdigit():
        parent = get_object_or_404(chapter.comments.filter(parent__isnull=True), pk=request.POST["parent"])
        anchor = parent.anchor
    else:
        try:
            anchor = _anchor(request)
        except ValueError as bad:
            return refusal(request, 400, str(bad))
    Comment.objects.create(chapter=chapter, author=request.user, parent=parent, body=body, **asdict(anchor))
    if parent:  # the thread's people hear of a reply; the writers of a new comment
        people = {parent.author_id: parent.author} | {r.author_id: r.author for r in parent.replies.all()}
        people.pop(request.user.pk, None)
        kind, said, people = Notification.Kind.REPLY, "replied on", people.values()
    else:
        kind, said, people = Notification.Kind.COMMENT, "commented on", writers_of(chapter.story, request.user)
    notify(people, chapter.story, kind, f"{request.user} {said} “{chapter.title}”: {body[:120]}", chapter_url(chapter))
    return _panel(request, chapter, status=201)


@login_required
@require_POST
def comment_resolve(request, story_pk, pk, comment_pk):
    """Resolve (or reopen) a thread: its author or anyone who writes the story."""
    chapter = get_chapter_for_user(request, story_pk, pk, COMMENT, editor=True)
    comment = get_object_or_404(chapter.comments.filter(parent__isnull=True), pk=comment_pk)
    if comment.author_id != request.user.pk and not chapter.story.can.write:
        return refusal(request, 403, "Only the writers or the comment's author can resolve it.")
    reopen = comment.resolved_at is not None
    comment.resolved_at, comment.resolved_by = (None, None) if reopen else (timezone.now(), request.user)
    comment.save(update_fields=["resolved_at", "resolved_by"])
    return _panel(request, chapter)


@login_required
@require_POST
def comment_delete(request, story_pk, pk, comment_pk):
    chapter = get_chapter_for_user(request, story_pk, pk, COMMENT, editor=True)
    get_object_or_404(chapter.comments, pk=comment_pk, author=request.user).delete()
    return _panel(request, chapter)


@login_required
@require_POST
@limit("comment", "COMMENTS_PER_MINUTE", 60, TOO_MANY)
def suggestion_add(request, story_pk, pk):
    chapter = get_chapter_for_user(request, story_pk, pk, SUGGEST, editor=True)
    replacement = request.POST.get("replacement", "")
    if len(replacement) > REPLACEMENT_MAX_CHARS:
        return refusal(
            request, 413, f"A suggestion can replace a passage with at most {REPLACEMENT_MAX_CHARS:,} characters."
        )
    try:
        anchor = _anchor(request)
    except ValueError as bad:
        return refusal(request, 400, str(bad))
    if replacement == anchor.quote:
        return refusal(request, 400, "The suggestion is the same as the text.")
    note = text_param(request.POST.get("note"), 500)
    Suggestion.objects.create(
        chapter=chapter, author=request.user, replacement=replacement, note=note, **asdict(anchor)
    )
    notify(writers_of(chapter.story, request.user), chapter.story, Notification.Kind.SUGGESTION,
           f"{request.user} suggested a change in “{chapter.title}”", chapter_url(chapter))  # fmt: skip
    return _panel(request, chapter, status=201)


@login_required
@require_POST
def suggestion_decide(request, story_pk, pk, suggestion_pk):
    """Accept (applied as a save with its own revision) or reject an open suggestion."""
    chapter = get_chapter_for_user(request, story_pk, pk, WRITE, editor=True)
    suggestion = get_object_or_404(chapter.suggestions.select_related("author"), pk=suggestion_pk)
    accept = request.POST.get("decision") == "accept"
    try:
        if accept:
            saved = chapter.accept_suggestion(suggestion, request.user)
            chapter.content, chapter.version = saved.content, saved.version
        else:
            suggestion.decide(Suggestion.Status.REJECTED, request.user)
    except ValueError as refused:
        return refusal(request, 409, str(refused))
    if suggestion.author_id != request.user.pk:
        verb = "accepted" if accept else "did not take"
        notify([suggestion.author], chapter.story, Notification.Kind.DECISION,
               f"{request.user} {verb} your suggestion in “{chapter.title}”", chapter_url(chapter))  # fmt: skip
    response = _panel(request, chapter)
    if accept and request.htmx:
        response["HX-Trigger"] = "chapter-changed"  # the editor reloads the text it shows (nothing unsaved is lost)
    return response


@login_required
def notifications(request):
    mine = Notification.objects.filter(user=request.user).select_related("story").order_by("-created_at")
    page = Paginator(mine, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "stories/notifications.html", {"notifications": page})


@login_required
@require_POST
def notifications_read(request):
    """Mark one (notification=<id>) or all as read; settings=1 saves the two switches instead."""
    if request.POST.get("settings"):
        request.user.notify_in_app = request.POST.get("in_app") == "on"
        request.user.notify_digest = request.POST.get("digest") == "on"
        request.user.save(update_fields=["notify_in_app", "notify_digest"])
        return redirect("notifications")
    mine = Notification.objects.filter(user=request.user).unread()
    one = request.POST.get("notification", "")
    if one.isdigit():
        found = mine.filter(pk=one).first()
        mine.filter(pk=one).update(read_at=timezone.now())
        return redirect(found.url if found else "notifications")
    mine.update(read_at=timezone.now())
    return redirect("notifications")
