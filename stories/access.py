"""The one place that answers "may this user do this to this story?".

Every lookup starts from the signed-in user and the action the caller needs (`READ`, `COMMENT`, `SUGGEST`,
`WRITE`, `OWN`; the default is `OWN`, so anything not opened to collaborators on purpose stays the owner's).
Anyone without that right gets a 404 (a collaborator who may read but not act gets a 404 too: what they may do
is shown, what they may not is never reachable). The story comes back with `story.role` and `story.can`.
"""

from django.db.models import Case, Q, Value, When
from django.db.models.expressions import RawSQL
from django.http import Http404

from .models import Chapter, Story
from .sharing import COMMENT, GRANTS, OWN, OWNER, READ, SUGGEST, WRITE, StoryMembership, role_label

__all__ = [
    "COMMENT", "OWN", "READ", "SUGGEST", "WRITE", "chapter_for", "get_chapter_for_user", "get_story_for_user",
    "stories_open_to", "story_for",
]  # fmt: skip


class StoryHidden(Exception):
    """The owner opened a story that moderators hid; the view shows the reason instead."""

    def __init__(self, story):
        super().__init__(story.flag_reason)
        self.story = story


class Can:
    """What the role allows, for templates: `{% if story.can.write %}`."""

    def __init__(self, role):
        allowed = GRANTS.get(role, set())
        self.read, self.comment, self.suggest = READ in allowed, COMMENT in allowed, SUGGEST in allowed
        self.write, self.own = WRITE in allowed, OWN in allowed
        self.role, self.label = role, role_label(role) if role else ""

    def __bool__(self):
        return self.read


# Written as SQL: these run on every autosave, and Django compiling the same subqueries as expressions cost more
# CPU than the queries themselves (measured on the editor page).
MEMBER_ROLE = "SELECT role FROM stories_storymembership m WHERE m.story_id = {story} AND m.user_id = %s"
SHARED = "EXISTS (SELECT 1 FROM stories_storymembership m WHERE m.story_id = stories_chapter.story_id)"
HAS_REVIEW = (
    "EXISTS (SELECT 1 FROM stories_comment c WHERE c.chapter_id = stories_chapter.id) OR EXISTS "
    "(SELECT 1 FROM stories_suggestion s WHERE s.chapter_id = stories_chapter.id AND s.status = 'open')"
)


def _member_role(user, story_column):
    return RawSQL(MEMBER_ROLE.format(story=story_column), [user.pk])


def _grant(story, role, need):
    """Attach the role to the story, or raise 404 (or StoryHidden for the owner of a hidden story)."""
    if role is None or need not in GRANTS[role]:
        raise Http404("No such story.")
    if story.is_flagged:
        if role == OWNER:
            raise StoryHidden(story)
        raise Http404("No such story.")
    story.role, story.can = role, Can(role)
    return story


def stories_open_to(user):
    """Every story the user may open, their own and those shared with them (not hidden, not in the trash), each
    with `role` ("owner", "co_author", "editor" or "reader")."""
    shared = StoryMembership.objects.filter(user=user).values("story_id")
    return (
        Story.objects.filter(Q(owner=user) | Q(pk__in=shared), deleted_at__isnull=True, is_flagged=False)
        .annotate(role=Case(When(owner=user, then=Value(OWNER)), default=_member_role(user, "stories_story.id")))
    )  # fmt: skip


def get_story_for_user(request, pk, need=OWN) -> Story:
    return story_for(request.user, pk, need)


def story_for(user, pk, need=OWN) -> Story:
    """The story if `user` may do `need` to it (for callers without a request: the API, consumers)."""
    story = (
        Story.objects.filter(pk=pk, deleted_at__isnull=True)
        .annotate(member_role=_member_role(user, "stories_story.id"))
        .first()
    )
    if story is None:
        raise Http404("No such story.")
    return _grant(story, OWNER if story.owner_id == user.pk else story.member_role, need)


def get_chapter_for_user(request, story_pk, pk, need=OWN, editor=False) -> Chapter:
    return chapter_for(request.user, story_pk, pk, need, editor)


def chapter_for(user, story_pk, pk, need=OWN, editor=False) -> Chapter:
    """The chapter and its story (with the user's role) in one query: the editor's autosave asks every few
    seconds. With editor=True it also says whether the story is shared (written together) and the chapter has
    comments or open suggestions (chapter.story_shared, chapter.has_review), so the editor skips what it does not
    need."""
    chapters = Chapter.objects.select_related("story").filter(story_id=story_pk, pk=pk, story__deleted_at__isnull=True)
    chapters = chapters.annotate(member_role=_member_role(user, "stories_chapter.story_id"))
    if editor:
        chapters = chapters.annotate(story_shared=RawSQL(SHARED, []), has_review=RawSQL(HAS_REVIEW, []))
    chapter = chapters.first()
    if chapter is None:
        story_for(user, story_pk, READ)  # a hidden story says why to its owner; else 404
        raise Http404("No such chapter.")
    story = chapter.story
    _grant(story, OWNER if story.owner_id == user.pk else chapter.member_role, need)
    return chapter
