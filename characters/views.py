from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.http import optional_id, paginate
from stories.access import OWN, READ, WRITE, get_story_for_user
from stories.models import WorldEntry

from .forms import CastForm, CastUpdateForm, CharacterForm, RelationshipForm
from .graph import layout
from .likeness import look_alike_pairs
from .models import Character, CharacterRelationship, StoryCharacter

LOOK_ALIKES_SHOWN = 10  # pairs of look-alike characters named on the cast page, closest first


def get_character_for_user(request, pk) -> Character:
    return get_object_or_404(Character.objects.for_user(request.user), pk=pk)


def with_portraits(characters):
    """Each character with its current portrait (or None) as `.portrait`, in one query for them all."""
    characters = list(characters)
    # Pictures sit above characters (a picture names its character), so they are reached through that relation.
    pictures = Character._meta.get_field("pictures").related_model
    portraits = pictures.objects.current_portraits(characters)
    for character in characters:
        character.portrait = portraits.get(character.pk)
    return characters


@login_required
def character_list(request):
    characters = (
        Character.objects.for_user(request.user)
        .annotate(story_total=Count("appearances"))
        .order_by("name")
        .only("pk", "name", "personality", "updated_at")
    )
    return render(request, "characters/character_list.html", {"characters": paginate(request, characters, 48)})


@login_required
@require_http_methods(["GET", "POST"])
def character_create(request):
    story_pk = optional_id(request.GET.get("story"), "story")
    story = get_story_for_user(request, story_pk) if story_pk else None
    form = CharacterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.owner = request.user
        character = form.save()
        if story:
            StoryCharacter.objects.create(story=story, character=character)
            messages.success(request, f"Added {character.name} to the cast. Set their role and importance below.")
            return redirect("story_cast", story.pk)
        messages.success(request, f"Created {character.name}.")
        return redirect(character)
    return render(request, "characters/character_form.html", {"form": form, "story": story})


@login_required
@require_http_methods(["GET", "POST"])
def character_detail(request, pk):
    character = get_character_for_user(request, pk)
    form = CharacterForm(request.POST or None, instance=character)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved {character.name}.")
        return redirect(character)
    appearances = character.appearances.select_related("story").filter(story__deleted_at__isnull=True)
    with_portraits([character])
    earlier = character.pictures.portraits().accepted().order_by("-accepted_at")[1:7]
    context = {"character": character, "form": form, "appearances": appearances, "earlier_portraits": earlier,
               "like_this_one": character.characters_like()}  # fmt: skip
    return render(request, "characters/character_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def character_delete(request, pk):
    character = get_character_for_user(request, pk)
    if request.method == "POST":
        character.delete()
        messages.success(request, f"Deleted {character.name}.")
        return redirect("character_list")
    return render(request, "characters/character_confirm_delete.html", {"character": character})


@login_required
@require_http_methods(["GET", "POST"])
def story_cast(request, story_pk):
    # Everyone the story is shared with reads the cast (who the people of the book are); only the owner changes it.
    story = get_story_for_user(request, story_pk, READ if request.method == "GET" else OWN)
    form = CastForm(request.POST or None, story=story)
    if request.method == "POST" and form.is_valid():
        member = form.save()
        messages.success(request, f"{member.character.name} joined the cast.")
        return redirect("story_cast", story.pk)
    cast = list(StoryCharacter.objects.filter(story=story).select_related("character"))
    with_portraits(member.character for member in cast)
    look_alikes = look_alike_pairs([member.character for member in cast])
    context = {
        "story": story,
        "section": "cast",
        "cast": cast,
        "form": form,
        "roles": StoryCharacter.Role.choices,
        "has_library": form.fields["character"].queryset.exists(),
        "look_alikes": look_alikes[:LOOK_ALIKES_SHOWN],
        "more_look_alikes": max(0, len(look_alikes) - LOOK_ALIKES_SHOWN),
    }
    return render(request, "characters/cast.html", context, status=400 if form.errors else 200)


def _get_member(request, story_pk, pk) -> StoryCharacter:
    story = get_story_for_user(request, story_pk)
    member = StoryCharacter.objects.filter(story=story, pk=pk).select_related("character").first()
    if member is None:
        raise Http404("Not in this story's cast.")
    return member


@login_required
@require_POST
def cast_update(request, story_pk, pk):
    member = _get_member(request, story_pk, pk)
    form = CastUpdateForm(request.POST, instance=member)
    if form.is_valid():
        form.save()
        messages.success(request, f"Updated {member.character.name}.")
    else:
        messages.error(request, "Importance must be between 1 and 10.")
    return redirect("story_cast", story_pk)


@login_required
@require_POST
def cast_remove(request, story_pk, pk):
    member = _get_member(request, story_pk, pk)
    member.delete()
    messages.success(request, f"{member.character.name} left the cast (they stay in your character library).")
    return redirect("story_cast", story_pk)


def _story_graph(story):
    cast = list(StoryCharacter.objects.filter(story=story).select_related("character"))
    with_portraits(member.character for member in cast)
    ids = [member.character_id for member in cast]
    relationships = list(
        CharacterRelationship.objects.filter(source_id__in=ids, target_id__in=ids).select_related("source", "target")
    )
    return cast, relationships


@login_required
@require_http_methods(["GET", "POST"])
def story_relationships(request, story_pk):
    story = get_story_for_user(request, story_pk, READ if request.method == "GET" else OWN)
    form = RelationshipForm(request.POST or None, story=story)
    if request.method == "POST" and form.is_valid():
        relationship = form.save()
        messages.success(request, f"Added: {relationship}.")
        return redirect("story_relationships", story.pk)
    cast, relationships = _story_graph(story)
    people = {member.character_id: member.character for member in cast}
    for relationship in relationships:  # the cast's copies carry the portraits
        relationship.source, relationship.target = people[relationship.source_id], people[relationship.target_id]
    context = {
        "story": story,
        "section": "relationships",
        "form": form,
        "relationships": relationships,
        "graph": layout(cast, relationships),
        "cast_size": len(cast),
    }
    return render(request, "characters/relationships.html", context, status=400 if form.errors else 200)


@login_required
def relationship_graph_svg(request, story_pk):
    story = get_story_for_user(request, story_pk, READ)
    cast, relationships = _story_graph(story)
    return render(
        request,
        "characters/_relationship_graph.svg",
        {"graph": layout(cast, relationships), "story": story, "standalone": True},
        content_type="image/svg+xml",
    )


@login_required
@require_POST
def relationship_delete(request, story_pk, pk):
    story = get_story_for_user(request, story_pk)
    relationship = CharacterRelationship.objects.filter(pk=pk, source__owner=request.user).first()
    if relationship is None:
        raise Http404("No such relationship.")
    relationship.delete()
    messages.success(request, "Relationship removed.")
    return redirect("story_relationships", story.pk)


@login_required
def story_bible(request, pk):
    story = get_story_for_user(request, pk, WRITE)
    cast = story.cast.select_related("character")
    character_ids = [member.character_id for member in cast]
    relationships = CharacterRelationship.objects.filter(
        source_id__in=character_ids, target_id__in=character_ids
    ).select_related("source", "target")
    world = WorldEntry.objects.filter(story=story)
    chapters = list(story.chapters.defer("content"))
    context = {
        "story": story,
        "section": "bible",
        "cast": cast,
        "relationships": relationships,
        "world": world,
        "chapters": chapters,
        "has_summaries": any(chapter.continuation_context.get("summary") for chapter in chapters),
        "ignored_findings": story.ignored_findings.all(),
        **continuity_overview(chapters),
    }
    return render(request, "stories/bible.html", context)


def continuity_overview(chapters) -> dict:
    """Across chapters: every thread with its latest status, each character's state per chapter, and
    relationship changes in order."""
    threads, timelines, relationships = {}, {}, []
    for chapter in chapters:
        context = chapter.continuation_context
        for thread in context.get("threads", []):
            threads[thread["summary"]] = {**thread, "chapter": chapter.title, "chapter_pk": chapter.pk}
        for name, state in context.get("character_states", {}).items():
            timelines.setdefault(name, []).append({"chapter": chapter.title, "chapter_pk": chapter.pk, "state": state})
        relationships += [
            {**r, "chapter": chapter.title, "chapter_pk": chapter.pk, "index": i}
            for i, r in enumerate(context.get("relationships", []))
        ]
    ordered = sorted(threads.values(), key=lambda t: (t.get("status") != "open", -t.get("importance", 5)))
    return {"threads": ordered, "timelines": timelines, "relationship_changes": relationships}
