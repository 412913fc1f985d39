from django.shortcuts import render

from .access import StoryHidden


class StoryHiddenMiddleware:
    """Turns StoryHidden into a page that tells the owner why moderators hid their story."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, StoryHidden):
            return render(request, "stories/story_hidden.html", {"story": exception.story}, status=403)
        return None
