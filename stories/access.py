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
    """The chapter and its story in one query (the editor's autosave asks for it every few seconds)."""
    chapter = (
        Chapter.objects.select_related("story")  # the story as Story.objects.owned_by has it, through the join
        .filter(story__owner=request.user, story__deleted_at__isnull=True, story_id=story_pk, pk=pk)
        .first()
    )
    if chapter is None:
        get_story_for_user(request, story_pk)  # a hidden story says why; anyone else's is a 404
        raise Http404("No such chapter.")
    if chapter.story.is_flagged:
        raise StoryHidden(chapter.story)
    return chapter
