"""The narrative patterns of a story, as a template tag: the bible (in the characters app) shows them without
knowing about the agents' models."""

from django import template

from agents.discovery import patterns, tropes
from agents.models import PatternReading

register = template.Library()


@register.inclusion_tag("agents/_story_patterns.html", takes_context=True)
def story_patterns(context, story):
    """Patterns found (strongest first, each with its catalogue entry), the dismissed ones, and whether the
    chapters changed since the last reading."""
    catalogue = tropes.by_key()
    rows = [p for p in story.patterns.select_related("chapter") if p.key in catalogue]
    for row in rows:
        row.trope = catalogue[row.key]
    reading = PatternReading.objects.filter(story=story).first()
    return {
        "story": story,
        "csrf_token": context.get("csrf_token"),
        "found": [p for p in rows if not p.dismissed],
        "dismissed": [p for p in rows if p.dismissed],
        "reading": reading,
        "stale": reading is not None and patterns.is_stale(story),
        "catalogue_size": len(catalogue),
    }
