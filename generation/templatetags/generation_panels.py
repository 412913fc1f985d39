"""The AI panel of the chapter editor, as a template tag: the editor (in the stories app) shows it without
knowing about generation tasks."""

from django import template
from django.db.models import Q

from pictures import making

from ..forms import WRITING_MODES
from ..models import GenerationTask

register = template.Library()


@register.inclusion_tag("generation/_ai_panel.html", takes_context=True)
def ai_panel(context, chapter):
    """Request modes, the cast for dialogue, and this chapter's running requests and pending proposals."""
    tasks = list(
        GenerationTask.objects.filter(chapter=chapter)
        .filter(Q(status__in=["queued", "running"]) | Q(proposal_status=GenerationTask.Proposal.PENDING))
        .prefetch_related("steps")
        .order_by("-created_at")[:3]
    )
    # The last finished continuity check stays beside the text until the next one.
    last_check = (
        GenerationTask.objects.filter(chapter=chapter, mode=GenerationTask.Mode.CHECK)
        .filter(status__in=GenerationTask.FINISHED)
        .prefetch_related("steps")
        .first()
    )
    if last_check and last_check not in tasks:
        tasks.append(last_check)
    return {
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "story": chapter.story,
        "chapter": chapter,
        "generation_modes": [(v, label) for v, label in WRITING_MODES if v != GenerationTask.Mode.CHECK],
        "cast_names": list(chapter.story.characters.values_list("name", flat=True)),
        "tasks": tasks,
        "images_on": making.available(),
    }
