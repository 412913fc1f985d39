"""World entries: locations, lore, items, factions and events of one story, with search."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.http import paginate, text_param

from .access import WRITE, get_story_for_user
from .forms import WorldEntryForm
from .models import WorldEntry

ENTRIES_PER_PAGE = 60


def _get_entry(request, story_pk, pk):
    story = get_story_for_user(request, story_pk, WRITE)
    entry = WorldEntry.objects.filter(story=story, pk=pk).first()
    if entry is None:
        raise Http404("No such world entry.")
    return entry


@login_required
@require_http_methods(["GET", "POST"])
def world_list(request, story_pk):
    story = get_story_for_user(request, story_pk, WRITE)
    form = WorldEntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.story = story
        entry = form.save()
        messages.success(request, f"Added {entry.get_kind_display().lower()} “{entry.name}”.")
        return redirect("world_list", story.pk)

    query = text_param(request.GET.get("q"), 200)
    kind = request.GET.get("kind", "")
    entries = WorldEntry.objects.filter(story=story)
    if query:
        entries = entries.filter(Q(name__icontains=query) | Q(description__icontains=query))
    if kind in WorldEntry.Kind.values:
        entries = entries.filter(kind=kind)
    context = {
        "story": story,
        "section": "world",
        "entries": paginate(request, entries, ENTRIES_PER_PAGE),
        "form": form,
        "query": query,
        "kind": kind,
        "kinds": WorldEntry.Kind.choices,
    }
    if request.htmx and request.method == "GET":
        return render(request, "stories/world_list.html#results", context)
    return render(request, "stories/world_list.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def world_edit(request, story_pk, pk):
    entry = _get_entry(request, story_pk, pk)
    form = WorldEntryForm(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved “{entry.name}”.")
        return redirect("world_list", entry.story_id)
    return render(
        request, "stories/world_edit.html", {"story": entry.story, "entry": entry, "form": form, "section": "world"}
    )


@login_required
@require_http_methods(["GET", "POST"])
def world_delete(request, story_pk, pk):
    entry = _get_entry(request, story_pk, pk)
    if request.method == "POST":
        entry.delete()
        messages.success(request, f"Deleted “{entry.name}”.")
        return redirect("world_list", entry.story_id)
    return render(
        request, "stories/world_confirm_delete.html", {"story": entry.story, "entry": entry, "section": "world"}
    )
