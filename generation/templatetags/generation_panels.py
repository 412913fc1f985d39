"""The AI panel of the chapter editor, as a template tag: the editor (in the stories app) shows it without
knowing about generation tasks."""

from django import template
from django.db.models import Q, prefetch_related_objects

from agents.team.kinds import IMAGE_MODES
from pictures import making

from ..forms import WRITING_MODES
from ..models import GenerationTask

register = template.Library()


@register.inclusion_tag("generation/_ai_panel.html", takes_context=True)
def ai_panel(context, chapter):
    """Request modes, the cast for dialogue, and this chapter's running requests and pending proposals."""
    mine = GenerationTask.objects.filter(chapter=chapter)
    running = mine.filter(Q(status__in=["queued", "running"]) | Q(proposal_status=GenerationTask.Proposal.PENDING))
    # The last finished continuity check stays beside the text until the next one. Both lists in one query.
    last_check = mine.filter(mode=GenerationTask.Mode.CHECK, status__in=GenerationTask.FINISHED)
    found = list(running.order_by("-created_at")[:3].union(last_check.order_by("-created_at")[:1], all=True))
    found.sort(key=lambda task: task.created_at, reverse=True)
    finished = GenerationTask.FINISHED
    checks = [task for task in found if task.mode == GenerationTask.Mode.CHECK and task.status in finished]
    tasks = [task for task in found if task not in checks] + checks[:1]  # the running ones, then the check
    prefetch_related_objects(tasks, "steps")
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


@register.inclusion_tag("generation/_review_proposals.html", takes_context=True)
def review_proposals(context, chapter):
    """The chapter's pending AI proposals for the review list, beside the human suggestions (writers decide)."""
    pending = GenerationTask.objects.filter(chapter=chapter, proposal_status=GenerationTask.Proposal.PENDING)
    pending = pending.exclude(mode__in=IMAGE_MODES).select_related("user").order_by("-created_at")[:10]
    return {"csrf_token": context.get("csrf_token"), "story": chapter.story, "proposals": list(pending)}
