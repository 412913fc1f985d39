"""How far the story's memory has got with an import's chapters, as a template tag: the import page (in the
stories app) shows it without knowing about the agents' models."""

from django import template

register = template.Library()


@register.inclusion_tag("agents/_memory_progress.html", takes_context=True)
def memory_progress(context, imported):
    """Chapters of the import whose passages are in the story's memory (each one is embedded by a worker once it
    settles), out of all of them."""
    if imported.story_id is None:
        return {"total": 0}
    chapters = imported.story.chapters.filter(metadata__import=imported.pk)
    total = chapters.count()
    done = chapters.filter(memory_items__isnull=False).distinct().count()
    percent = int(100 * done / total) if total else 100
    return {"total": total, "done": done, "percent": percent, "url": context["request"].path}
