from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.http import paginate, text_param
from core.refusals import refusal

from .access import READ, WRITE, get_story_for_user
from .forms import StoryForm
from .models import DICTIONARY_WORD_CHARS, TRASH_DAYS, Story, StoryMembership

STORIES_PER_PAGE = 24
ROWS_PER_PAGE = 50
SHARED_ON_DASHBOARD = 100


@login_required
def dashboard(request):
    showing_archived = request.GET.get("view") == "archived"
    stories = Story.objects.owned_by(request.user)
    stories = stories.archived() if showing_archived else stories.active()
    stories = stories.annotate(chapter_total=Count("chapters"), word_total=Sum("chapters__word_count")).order_by(
        "-updated_at"
    )
    context = {
        "stories": paginate(request, stories, STORIES_PER_PAGE),
        "showing_archived": showing_archived,
        "archived_count": Story.objects.owned_by(request.user).archived().count(),
        # Asked cheaply first: most writers share nothing, and the list's query (three tables) costs more to build.
        "shared": StoryMembership.objects.shared_with(request.user)[:SHARED_ON_DASHBOARD]
        if StoryMembership.objects.filter(user=request.user).exists()
        else [],
    }
    return render(request, "stories/dashboard.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def story_create(request):
    form = StoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.owner = request.user
        story = form.save()
        messages.success(request, f"Created “{story.title}”. Add a first chapter to start writing.")
        return redirect(story)
    return render(request, "stories/story_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def story_edit(request, pk):
    story = get_story_for_user(request, pk)
    form = StoryForm(request.POST or None, instance=story)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Story settings saved.")
        return redirect(story)
    return render(request, "stories/story_form.html", {"form": form, "story": story, "section": "settings"})


@login_required
@require_POST
def dictionary_add(request, pk):
    """A word the grammar check took for a mistake goes into the story's dictionary, and is left alone from now on."""
    story = get_story_for_user(request, pk, WRITE)
    word = text_param(request.POST.get("word"), DICTIONARY_WORD_CHARS)
    try:
        settings = story.settings.with_word(word)
    except ValueError as full:
        return refusal(request, 400, str(full))
    Story.objects.filter(pk=story.pk).update(generation_settings=settings.model_dump())
    message = f"“{word}” is in this story's dictionary now." if word else "Nothing to add."
    if request.htmx:
        return HttpResponse(message)
    messages.success(request, message)
    return redirect("story_edit", story.pk)


@login_required
@require_POST
def story_archive(request, pk):
    story = get_story_for_user(request, pk)
    if story.archived_at:
        story.unarchive()
        messages.success(request, f"“{story.title}” is back on your dashboard.")
    else:
        story.archive()
        messages.success(request, f"Archived “{story.title}”. Find it under Archived.")
    return redirect("dashboard")


@login_required
@require_http_methods(["GET", "POST"])
def story_delete(request, pk):
    story = get_story_for_user(request, pk)
    if request.method == "POST":
        story.move_to_trash()
        messages.success(request, f"Moved “{story.title}” to the trash. You can restore it for {TRASH_DAYS} days.")
        return redirect("dashboard")
    return render(request, "stories/story_confirm_delete.html", {"story": story, "trash_days": TRASH_DAYS})


@login_required
def trash(request):
    Story.objects.expired_trash().filter(owner=request.user).delete()
    stories = paginate(request, Story.objects.in_trash(request.user).order_by("-deleted_at"), ROWS_PER_PAGE)
    return render(request, "stories/trash.html", {"stories": stories, "trash_days": TRASH_DAYS})


@login_required
@require_POST
def story_restore(request, pk):
    story = get_object_or_404(Story.objects.in_trash(request.user).exclude(pk__in=Story.objects.expired_trash()), pk=pk)
    story.restore_from_trash()
    messages.success(request, f"Restored “{story.title}”.")
    return redirect(story)


@login_required
def story_detail(request, pk):
    """The workspace opens on the first chapter; a story without chapters shows how to begin."""
    story = get_story_for_user(request, pk, READ)
    first = story.chapters.only("pk").first()
    if first:
        return redirect("chapter_edit", story.pk, first.pk)
    context = {"story": story, "chapters": [], "story_words": 0, "section": "write"}
    return render(request, "stories/workspace_empty.html", context)


@login_required
@require_POST
def finding_restore(request, pk, finding_pk):
    """Raise an ignored quality finding again."""
    story = get_story_for_user(request, pk, WRITE)
    get_object_or_404(story.ignored_findings, pk=finding_pk).delete()
    messages.success(request, "The checks will raise that finding again.")
    return redirect("story_bible", story.pk)
