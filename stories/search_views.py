"""Semantic search over story memory: by meaning and by exact words, in one story or across all of mine."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from storyassistant.http import text_param
from storyassistant.ratelimit import limit

from .access import get_story_for_user

MAX_QUERY = 500


@login_required
@limit("search", "SEARCHES_PER_MINUTE", 60, "Too many searches in a minute; try again shortly.")
def search(request, story_pk=None):
    story = get_story_for_user(request, story_pk) if story_pk else None
    query = text_param(request.GET.get("q"), MAX_QUERY)
    results = []
    if query:
        from agents.memory import search as search_memory

        results = search_memory(request.user, query, story=story, k=20)
    context = {"story": story, "query": query, "results": results, "section": "search"}
    template = "stories/_search_body.html#results" if request.htmx else "stories/search.html"
    return render(request, template, context)
