"""Comments and suggestions anchored to a chapter's text, and the notifications they send.

A comment (or a reply to one) sits on a quoted passage; a suggestion proposes a replacement for one, which the
writers accept (a normal save: a revision records it, a conflict is detected) or reject. Both keep their anchor
(`stories.anchors`) so they follow the passage through edits and say so when it is gone.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .anchors import GONE, Anchor, Found, locate

BODY_MAX_CHARS = 5000
REPLACEMENT_MAX_CHARS = 10000


class Anchored(models.Model):
    chapter = models.ForeignKey("stories.Chapter", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    quote = models.TextField(blank=True)
    prefix = models.CharField(max_length=64, blank=True)
    suffix = models.CharField(max_length=64, blank=True)
    start = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # The name a backup gave for whoever wrote it: a restored story's comments belong to the one who restored it
    # (the people of another server are not this server's), and still say who wrote them.
    written_by = models.CharField(max_length=200, blank=True)

    class Meta:
        abstract = True

    @property
    def by(self) -> str:
        return self.written_by or self.author.display_name or self.author.email

    @property
    def anchor(self) -> Anchor:
        return Anchor(self.quote, self.prefix, self.suffix, self.start)

    def found_in(self, text: str) -> Found:
        return locate(text, self.anchor)


class CommentQuerySet(models.QuerySet):
    def threads(self, chapter):
        """The chapter's top-level comments with their replies, open ones first."""
        return (
            self.filter(chapter=chapter, parent__isnull=True)
            .select_related("author", "resolved_by")
            .prefetch_related(models.Prefetch("replies", queryset=Comment.objects.select_related("author")))
            .order_by(models.F("resolved_at").asc(nulls_first=True), "start", "created_at")
        )


class Comment(Anchored):
    chapter = models.ForeignKey("stories.Chapter", on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    body = models.TextField(max_length=BODY_MAX_CHARS)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = CommentQuerySet.as_manager()

    class Meta:
        indexes = [
            # The editor's comment list: a chapter's threads.
            models.Index(fields=["chapter", "parent", "created_at"], name="comment_chapter_idx"),
        ]

    def __str__(self):
        return self.body[:60]


class Suggestion(Anchored):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    chapter = models.ForeignKey("stories.Chapter", on_delete=models.CASCADE, related_name="suggestions")
    replacement = models.TextField(blank=True, max_length=REPLACEMENT_MAX_CHARS)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The review list: a chapter's open suggestions.
            models.Index(fields=["chapter", "status", "start"], name="suggestion_chapter_idx"),
        ]

    def __str__(self):
        return f"{self.quote[:30]} → {self.replacement[:30]}"

    def decide(self, status, by):
        updated = Suggestion.objects.filter(pk=self.pk, status=self.Status.OPEN).update(
            status=status, decided_by=by, decided_at=timezone.now()
        )
        if not updated:
            raise ValueError("Someone already decided on this suggestion.")
        self.status = status


class NotificationQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    class Kind(models.TextChoices):
        COMMENT = "comment", "Comment"
        REPLY = "reply", "Reply"
        SUGGESTION = "suggestion", "Suggestion"
        DECISION = "decision", "Suggestion decided"
        INVITATION = "invitation", "Joined"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        indexes = [
            # The notifications page.
            models.Index(fields=["user", "-created_at"], name="notification_user_idx"),
            # The unread count in every page's header (stories.context_processors).
            models.Index(fields=["user"], name="notification_unread_idx", condition=Q(read_at__isnull=True)),
            # The daily digest: unread and not yet mailed.
            models.Index(
                fields=["user"],
                name="notification_digest_idx",
                condition=Q(read_at__isnull=True, emailed_at__isnull=True),
            ),
        ]

    def __str__(self):
        return self.text


def notify(users, story, kind, text: str, url: str):
    """One notification per user (those who switched in-app notifications off get none)."""
    Notification.objects.bulk_create(
        Notification(user=user, story=story, kind=kind, text=text[:500], url=url[:500])
        for user in users
        if user.notify_in_app
    )


def writers_of(story, besides=None) -> list:
    """The owner and co-authors (who decide on comments and suggestions), except `besides`."""
    co_authors = story.memberships.filter(role="co_author").select_related("user")
    return [
        person for person in [story.owner, *(m.user for m in co_authors)] if person.pk != getattr(besides, "pk", None)
    ]


def review_context(chapter, user) -> dict:
    """Every thread and open suggestion with where its passage is in the chapter now."""
    text = chapter.content
    threads = list(Comment.objects.threads(chapter))
    suggestions = list(chapter.suggestions.filter(status=Suggestion.Status.OPEN).select_related("author"))
    for item in threads + suggestions:
        item.found = item.found_in(text)
    return {"story": chapter.story, "chapter": chapter, "threads": threads, "suggestions": suggestions, "me": user,
            "cowrite": chapter.story_shared}  # fmt: skip


@dataclass
class Piece:
    text: str
    item: "Comment | Suggestion | None" = None
    number: int = 0  # comments are numbered in the order their passages come


def marked(text: str, items) -> list[Piece]:
    """The text cut at the passages of `items` (comments and suggestions whose `found` says where they are now),
    in order: plain pieces, and pieces with their item. Where passages overlap, the first keeps its place and the
    other stays in the review panel. Linear in the text (the items are sorted once)."""
    spans = sorted(
        ((i.found.start, i.found.end, i) for i in items if i.found.state != GONE and i.found.end > i.found.start),
        key=lambda span: (span[0], -span[1]),
    )
    pieces, at, numbered = [], 0, 0
    for start, end, item in spans:
        if start < at:
            continue
        if start > at:
            pieces.append(Piece(text[at:start]))
        if isinstance(item, Comment):
            numbered += 1
            item.number = numbered
        pieces.append(Piece(text[start:end], item, getattr(item, "number", 0)))
        at = end
    if at < len(text):
        pieces.append(Piece(text[at:]))
    return pieces


def chapter_url(chapter, at: int | None = None, end: int | None = None) -> str:
    url = reverse("chapter_edit", args=[chapter.story_id, chapter.pk])
    return f"{url}?at={at}&end={end}" if at is not None and end is not None else url
