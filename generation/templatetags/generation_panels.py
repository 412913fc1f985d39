"""The AI panel of the chapter editor, as a template tag: the editor (in the stories app) shows it without
knowing about generation tasks."""

from django import template
from django.db.models import Q

from ..models import GenerationTask

register = template.Library()


@register.inclusion_tag("generation/_ai_panel.html", takes_context=True)
def ai_panel(context, chapter):
    """Request modes, the cast for dialogue, and this chapter's running requests and pending proposals."""
    tasks = (
        GenerationTask.objects.filter(chapter=chapter)
        .filter(Q(status__in=["queued", "running"]) | Q(proposal_status=GenerationTask.Proposal.PENDING))
        .prefetch_related("steps")
        .order_by("-created_at")[:3]
    )
    return {
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "story": chapter.story,
        "chapter": chapter,
        "generation_modes": GenerationTask.Mode.choices,
        "cast_names": list(chapter.story.characters.values_list("name", flat=True)),
        "tasks": list(tasks),
    }
