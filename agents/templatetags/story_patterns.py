"""The narrative patterns of a story, as a template tag: the bible (in the characters app) shows them without
knowing about the agents' models."""

from django import template

from agents.discovery import patterns, tropes
from agents.models import PatternReading, StoryPattern

register = template.Library()


@register.inclusion_tag("agents/_story_patterns.html", takes_context=True)
def story_patterns(context, story):
    """Patterns found (strongest first, each with its catalogue entry), those a capable model did not find in
    their passage, the dismissed ones, and whether the chapters changed since the last reading."""
    catalogue = tropes.by_key()
    found = story.patterns.select_related("chapter").defer("chapter__content", "chapter__continuation_context")
    rows = [p for p in found if p.key in catalogue]
    for row in rows:
        row.trope = catalogue[row.key]
        row.staple = tropes.staple_in(row.trope, story.genre)
    reading = PatternReading.objects.filter(story=story).first()
    return {
        "story": story,
        "csrf_token": context.get("csrf_token"),
        "found": [p for p in rows if not p.dismissed and p.verdict != StoryPattern.Verdict.NOT_FOUND],
        "not_found": [p for p in rows if not p.dismissed and p.verdict == StoryPattern.Verdict.NOT_FOUND],
        "dismissed": [p for p in rows if p.dismissed],
        "reading": reading,
        "stale": reading is not None and patterns.is_stale(story),
        "catalogue_size": len(catalogue),
    }
