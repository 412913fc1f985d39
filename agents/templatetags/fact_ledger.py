"""The fact ledger in the story bible, as a template tag: the bible (in the stories app) shows it without knowing
about the agents' models."""

from django import template

from agents.models import Fact, FactReading

register = template.Library()


@register.inclusion_tag("agents/_fact_ledger.html", takes_context=True)
def fact_ledger(context, story):
    """Each subject's facts as a timeline by chapter, and the chapters not read for facts with the reason."""
    subjects: dict[str, list[Fact]] = {}
    for fact in (
        Fact.objects.filter(story=story).select_related("chapter").order_by("subject", "chapter__order", "offset")
    ):
        subjects.setdefault(fact.subject, []).append(fact)
    unread = FactReading.objects.filter(chapter__story=story).exclude(note="").select_related("chapter")
    return {
        "story": story,
        "csrf_token": context.get("csrf_token"),
        "subjects": sorted(subjects.items(), key=lambda item: (-len(item[1]), item[0].lower())),
        "unread": list(unread.order_by("chapter__order")),
    }
