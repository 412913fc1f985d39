"""Access helpers: every lookup starts from the signed-in user, so another user's object is a 404."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Chapter, Story


class StoryHidden(Exception):
    """The owner opened a story that moderators hid; the view shows the reason instead."""

    def __init__(self, story):
        super().__init__(story.flag_reason)
        self.story = story


def get_story_for_user(request, pk) -> Story:
    story = get_object_or_404(Story.objects.owned_by(request.user), pk=pk)
    if story.is_flagged:
        raise StoryHidden(story)
    return story


def get_chapter_for_user(request, story_pk, pk) -> Chapter:
    story = get_story_for_user(request, story_pk)
    try:
        chapter = story.chapters.get(pk=pk)
    except Chapter.DoesNotExist as exc:
        raise Http404("No such chapter.") from exc
    chapter.story = story
    return chapter
