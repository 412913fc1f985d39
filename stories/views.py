from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .access import get_story_for_user
from .forms import StoryForm
from .models import Story


@login_required
def dashboard(request):
    stories = (
        Story.objects.owned_by(request.user)
        .active()
        .annotate(chapter_total=Count("chapters"), word_total=Sum("chapters__word_count"))
        .order_by("-updated_at")
    )
    return render(request, "stories/dashboard.html", {"stories": stories})


@login_required
@require_http_methods(["GET", "POST"])
def story_create(request):
    form = StoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.owner = request.user
        story = form.save()
        return redirect(story)
    return render(request, "stories/story_form.html", {"form": form})


@login_required
def story_detail(request, pk):
    story = get_story_for_user(request, pk)
    return render(request, "stories/story_detail.html", {"story": story, "chapters": story.chapters.all()})
