"""Views that use the agents' parts directly, without a task: searching story memory, checking grammar and style,
and reading or correcting a chapter's continuity notes and the fact ledger. (Asking the agents for writing or a
check is a task: generation/views.py.)"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agents.checks.grammar import check_story_text
from agents.discovery import charts, report, scenes
from agents.memory import continuity, facts
from agents.memory.store import search as search_memory
from agents.models import Fact, StoryPattern
from agents.services import llm
from agents.tasks import extract_continuity, read_story_patterns, style_figures
from core.http import parse_id, text_param
from core.queues import enqueue_after_commit
from core.ratelimit import limit
from stories.access import WRITE, get_chapter_for_user, get_story_for_user
from stories.models import CHAPTER_MAX_CHARS

MAX_QUERY = 500
MAX_SCENE_TEXT = 5000  # a passage to compare: a few paragraphs


GRAMMAR_SHOWN = 200


@login_required
@limit("search", "SEARCHES_PER_MINUTE", 60, "Too many searches in a minute; try again shortly.")
def search(request, story_pk=None):
    """Story memory by meaning and by exact words, in one story or across all of the writer's."""
    story = get_story_for_user(request, story_pk, WRITE) if story_pk else None
    query = text_param(request.GET.get("q"), MAX_QUERY)
    results = search_memory(request.user, query, story=story, k=20) if query else []
    context = {"story": story, "query": query, "results": results, "section": "search"}
    template = "stories/_search_body.html#results" if request.htmx else "stories/search.html"
    return render(request, template, context)


@login_required
@require_POST
@limit("grammar", "GRAMMAR_CHECKS_PER_MINUTE", 60, "Too many grammar checks in a minute; try again shortly.")
def chapter_grammar(request, story_pk, pk):
    """Grammar and style for the text in the editor (sent along, so unsaved words are checked too). The
    suggestions are applied in the page, one by one, and reach the server through autosave."""
    chapter = get_chapter_for_user(request, story_pk, pk, WRITE)
    text = (request.POST.get("content") or chapter.content).replace("\r\n", "\n")[:CHAPTER_MAX_CHARS]
    report = check_story_text(chapter.story, text) if text.strip() else {"available": True, "note": "", "matches": []}
    # The first suggestions in the text, not all of a long chapter's thousands: fixing them and checking again
    # brings the next ones.
    report["total"] = len(report["matches"])
    report["matches"] = report["matches"][:GRAMMAR_SHOWN]
    for match in report["matches"]:
        start, end = match["offset"], match["offset"] + match["length"]
        match["before"], match["after"] = text[max(0, start - 40) : start], text[end : end + 40]
    return render(request, "stories/_grammar.html", {"story": chapter.story, "chapter": chapter, "report": report})


@login_required
@require_POST
def chapter_continuity(request, pk, chapter_pk):
    """Refresh a chapter's continuity notes in the background, or save the writer's correction: a summary, a
    character's state at the chapter's end, or a thread marked open or resolved."""
    story = get_story_for_user(request, pk, WRITE)
    chapter = get_object_or_404(story.chapters, pk=chapter_pk)
    if "summary" in request.POST:
        summary = text_param(request.POST["summary"], 2000)
        if summary:
            continuity.correct(chapter, "summary", summary)
            messages.success(request, f"Saved your summary of “{chapter.title}”; it will not be replaced.")
    elif "character" in request.POST:
        state = text_param(request.POST.get("state"), 500)
        if state:
            continuity.set_character_state(chapter, text_param(request.POST["character"], 200), state)
            messages.success(request, "Saved; your correction will not be replaced.")
    elif "thread" in request.POST:
        try:
            continuity.set_thread_status(
                chapter, text_param(request.POST["thread"], 500), text_param(request.POST.get("status"), 20)
            )
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Thread updated; your change will not be replaced.")
    else:
        enqueue_after_commit(extract_continuity, chapter.pk)
        messages.success(request, f"Reading “{chapter.title}” again; its notes update in a moment.")
    return redirect("story_bible", story.pk)


@login_required
@require_POST
def fact_edit(request, story_pk, pk):
    """The writer corrects, pins, unpins or deletes a fact of the ledger; their word wins over every later
    reading of the chapter."""
    story = get_story_for_user(request, story_pk, WRITE)
    fact = get_object_or_404(Fact, story=story, pk=pk)
    action = request.POST.get("action")
    if action == "correct":
        value = text_param(request.POST.get("value"), 500)
        if not value:
            raise BadRequest("A fact needs a value; delete it instead if it is wrong.")
        facts.correct(fact, value)
        messages.success(request, f"{fact.subject}: now “{value}” from chapter {fact.chapter.order} on.")
    elif action in ("pin", "unpin"):
        facts.pin(fact, action == "pin")
        messages.success(request, "Pinned: a new reading will not change it." if action == "pin" else "Unpinned.")
    elif action == "delete":
        facts.reject(fact)
        messages.success(request, "Deleted: the checks leave it out, and a new reading will not bring it back.")
    else:
        raise BadRequest("Correct, pin, unpin or delete.")
    return redirect(reverse("story_bible", args=[story.pk]) + "#fact-ledger")


@login_required
@require_POST
def relationship_change_apply(request, pk, chapter_pk):
    """Apply a relationship change a chapter told to the relationship itself (its history keeps the change)."""
    chapter = get_chapter_for_user(request, pk, chapter_pk)
    index = parse_id(request.POST.get("change"), "change") - 1  # changes are numbered from 1 in the page
    try:
        relationship = continuity.apply_relationship_change(chapter, index)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"{relationship.source.name} → {relationship.target.name}: now {relationship.get_kind_display().lower()}, "
            f"{relationship.strength}/10.",
        )
    return redirect(reverse("story_bible", args=[chapter.story_id]) + "#relationship-changes")


@login_required
@require_POST
def story_patterns(request, pk):
    """Read the story for narrative patterns in the background (from the passages memory already holds)."""
    story = get_story_for_user(request, pk, WRITE)
    enqueue_after_commit(read_story_patterns, story.pk)
    messages.success(request, "Looking for patterns in the story; they appear here in a moment.")
    return redirect(reverse("story_bible", args=[story.pk]) + "#patterns")


@login_required
@require_POST
def pattern_dismiss(request, pk, pattern_pk):
    """Dismiss a pattern (a new reading will not show it again), or bring a dismissed one back."""
    story = get_story_for_user(request, pk, WRITE)
    pattern = get_object_or_404(StoryPattern, story=story, pk=pattern_pk)
    pattern.dismissed = request.POST.get("action") != "restore"
    pattern.save(update_fields=["dismissed"])
    return redirect(reverse("story_bible", args=[story.pk]) + "#patterns")


@login_required
def story_style(request, pk):
    """The story's style report: figures per chapter against the writer's norm, charts, recommendations, and the
    writer's chapters and stories closest in style (chosen chapter: ?chapter=ID)."""
    story = get_story_for_user(request, pk, WRITE)
    measured, pending = style_figures(story)
    norm = report.writer_norm(story.owner_id)
    whole = report.story_figures(measured)
    chosen = None
    if request.GET.get("chapter"):
        chapter_id = parse_id(request.GET["chapter"], "chapter")
        chosen = next(((c, f) for c, f in measured if c.pk == chapter_id), None)
        if chosen is None:
            raise Http404("No such chapter in this story.")
    labels = [str(chapter.order) for chapter, _ in measured]
    model = llm.resolve(story=story).profile  # rewrites of flagged sentences need a model that can rewrite
    context = {
        "story": story,
        "section": "style",
        "measured": measured,
        "pending": pending,
        "norm": norm,
        "whole": whole,
        "recommendations": report.recommendations(measured, norm, *report.telling(story)),
        "histogram": charts.bars(whole.get("sentence_lengths", []), report.BUCKET_LABELS) if whole else None,
        "pacing": charts.lines(
            [
                ("Average sentence (words)", [f.get("mean_sentence", 0) for _, f in measured]),
                ("Dialogue (share of words)", [f.get("dialogue_share", 0) for _, f in measured]),
                ("Adverbs per 1,000 words", [f.get("adverbs_per_1000", 0) for _, f in measured]),
            ],
            labels,
        )
        if len(measured) > 1
        else None,
        "chosen": chosen,
        "can_rewrite": model.rewrites,
        "model_who": model.who,
        "similar_chapters": report.closest_in_style(story.owner_id, chosen[1], exclude_story_id=None) if chosen else [],
        "similar_stories": report.closest_in_style(story.owner_id, whole, story.pk, chapters=False) if whole else [],
    }
    return render(request, "agents/style_report.html", context)


@login_required
@limit("search", "SEARCHES_PER_MINUTE", 60, "Too many searches in a minute; try again shortly.")
def story_scenes(request, pk):
    """Scenes like this one: passages like a given one, where two of the cast appear together, or of a kind,
    in this story or across the writer's library."""
    story = get_story_for_user(request, pk, WRITE)
    cast = {m.character_id: m.character for m in story.cast.select_related("character")}
    chosen = []
    for field in ("a", "b"):
        if request.GET.get(field):
            character = cast.get(parse_id(request.GET[field], "character"))
            if character is None:
                raise Http404("No such character in this story.")
            chosen.append(character)
    kind = request.GET.get("kind", "")
    if kind and kind not in {k.key for k in scenes.kinds()}:
        raise BadRequest("Unknown kind of scene.")
    text = text_param(request.GET.get("text"), MAX_SCENE_TEXT)
    library = request.GET.get("scope") == "library"
    asked = bool(text or chosen or kind)
    found = (
        scenes.find(  # a shared story's scenes are its owner's; "across the library" is the reader's own
            request.user if library else story.owner,
            text=text,
            names=[c.name for c in chosen],
            kind=kind,
            story=None if library else story,
        )
        if asked
        else []
    )
    context = {
        "story": story, "section": "search", "cast": cast.values(), "chosen": [c.pk for c in chosen],
        "kinds": scenes.kinds(), "kind": kind, "text": text, "library": library, "asked": asked, "found": found,
    }  # fmt: skip
    return render(request, "agents/scenes.html", context)
