from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.db.models import Avg, Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from agents.checks.grammar import probe_languagetool
from agents.services import llm
from agents.team.requests import TaskRequest
from characters.models import Character, StoryCharacter
from core.http import optional_id, text_param
from core.refusals import too_many
from core.services import ServiceError
from pictures import making
from stories.access import WRITE, get_story_for_user
from stories.models import WorldEntry

from .dispatch import ImagesOff, QueueFull, start_generation
from .forms import PROPOSAL_KINDS, AcceptForm, GenerateForm, RatingForm
from .live import panel_context
from .models import GenerationStep, GenerationTask, ProposalConflict


def get_task_for_user(request, pk) -> GenerationTask:
    return get_object_or_404(GenerationTask.objects.for_user(request.user).select_related("story", "chapter"), pk=pk)


def get_proposal_for_writer(request, pk) -> GenerationTask:
    """A task whose proposal any writer of its story may accept or discard (the shared review list)."""
    tasks = GenerationTask.objects.written_by(request.user).select_related("story", "chapter")
    return get_object_or_404(tasks, pk=pk)


@login_required
@require_POST
def generate(request, story_pk):
    story = get_story_for_user(request, story_pk, WRITE)
    chapter_pk = optional_id(request.POST.get("chapter"), "chapter")
    chapter = story.chapters.filter(pk=chapter_pk).first() if chapter_pk else None
    form = GenerateForm(request.POST, story=story, chapter=chapter)
    if not form.is_valid():
        errors = " ".join(e for errs in form.errors.values() for e in errs)
        if request.htmx:
            return render(request, "generation/_form_errors.html", {"errors": errors}, status=400)
        messages.error(request, errors)
        return redirect(chapter or story)
    try:
        task = start_generation(request.user, story, form.cleaned_data["mode"], form.task_request(), chapter=chapter)
    except QueueFull as full:
        return too_many(request, full.retry_after, str(full))
    if request.htmx:
        return render(request, "generation/_task.html#live", panel_context(task))
    return redirect(task)


def panel_or_task_page(request, task):
    """After an action on a task: the refreshed panel for htmx, the task's page otherwise."""
    if request.htmx:
        return render(request, "generation/_task.html#panel", panel_context(task))
    return redirect(task)


@login_required
def task_detail(request, pk):
    task = get_proposal_for_writer(request, pk)
    return render(request, "generation/task_detail.html", {**panel_context(task), "story": task.story})


@login_required
@require_POST
def task_cancel(request, pk):
    task = get_task_for_user(request, pk)
    task.request_cancel()
    return panel_or_task_page(request, task)


@login_required
@require_POST
def proposal_accept(request, pk):
    task = get_proposal_for_writer(request, pk)
    if task.makes_picture:
        return picture_accept(request, task)
    form = AcceptForm(request.POST)
    form.is_valid()
    edited = form.cleaned_data.get("text") or None
    try:
        chapter = task.accept_proposal(request.user, edited)
    except ProposalConflict as exc:
        messages.error(request, str(exc))
        return redirect(task)
    if task.mode == GenerationTask.Mode.NEXT_CHAPTER:
        messages.success(request, f"Added to your story as a new chapter, “{chapter.title}”.")
    else:  # the chapter's text before the proposal went in is its latest revision
        messages.success(request, "Added to your chapter. The text as it was before is in the chapter's history.")
    if task.story.settings.images_enabled and task.mode == GenerationTask.Mode.NEXT_CHAPTER:
        propose_illustration(request, task.story, chapter)
    return redirect(chapter)


def propose_illustration(request, story, chapter):
    """The story has pictures on: an accepted chapter gets an illustration proposed (the writer is told when it
    cannot be, and the chapter is in the story either way)."""
    try:
        start_generation(request.user, story, GenerationTask.Mode.ILLUSTRATE, TaskRequest(), chapter=chapter)
    except (ImagesOff, QueueFull) as exc:
        messages.info(request, f"No illustration was started: {exc}")
    else:
        messages.info(request, "An illustration of the chapter is being made; it will wait in the story's pictures.")


def picture_accept(request, task):
    try:
        picture = task.accept_picture()
    except ProposalConflict as exc:
        messages.error(request, str(exc))
        return redirect(task)
    if picture.kind == picture.Kind.PORTRAIT:
        messages.success(request, f"This is now {picture.character.name}'s portrait.")
        return redirect("story_cast", task.story_id)
    messages.success(request, "Added to the story's pictures and to the book.")
    return redirect("story_gallery", task.story_id)


@login_required
@require_POST
def proposal_discard(request, pk):
    task = get_proposal_for_writer(request, pk)
    task.discard_proposal()
    messages.success(request, "Discarded. It stays in the generation history.")
    if task.makes_picture:
        return redirect("story_gallery", task.story_id)
    return redirect(task.chapter or task.story)


@login_required
@require_POST
def task_regenerate(request, pk):
    """The same request again, with the writer's note on what to change."""
    task = get_task_for_user(request, pk)
    note = text_param(request.POST.get("note"), 2000)
    new_request = task.task_request.with_note(note)
    if task.chapter_id and not task.makes_picture:
        new_request = new_request.rebased(task.chapter)
    try:
        new_task = start_generation(request.user, task.story, task.mode, new_request, chapter=task.chapter)
    except QueueFull as full:
        return too_many(request, full.retry_after, str(full))
    except ImagesOff as off:
        messages.error(request, str(off))
        return redirect(task)
    task.discard_proposal()  # the new one replaces it
    return redirect(new_task)


@login_required
@require_POST
def task_rate(request, pk):
    task = get_task_for_user(request, pk)
    form = RatingForm(request.POST)
    if task.status != GenerationTask.Status.SUCCEEDED or not form.is_valid():
        messages.error(request, "Rate a finished generation from 1 to 5.")
    else:
        task.rate(form.cleaned_data["rating"])
        messages.success(request, f"Rated {task.user_rating} of 5. Thank you.")
    return redirect(task)


@login_required
@require_POST
def finding_ignore(request, pk):
    """The writer dismisses a quality finding; the checks will not raise it again in this story."""
    task = get_task_for_user(request, pk)
    if not task.ignore_finding(request.POST.get("fingerprint", "")):
        raise Http404("No such finding.")
    messages.success(request, "Ignored. It will not be raised again in this story; the story bible lists it.")
    return panel_or_task_page(request, task)


@login_required
@require_POST
def world_proposal_accept(request, pk):
    """Add what the draft introduced: a person to the cast (from the writer's library if they have one of that
    name), anything else to the story's world, as the kind and with the description the writer settled on. Both
    join the story's memory like anything the writer saves."""
    task = get_task_for_user(request, pk)
    proposals = {p.name: p for p in task.context.world_proposals} if task.context else {}
    proposal = proposals.get(request.POST.get("name", ""))
    if proposal is None:
        raise Http404("No such proposal.")
    kind = request.POST.get("kind") if request.POST.get("kind") in PROPOSAL_KINDS else proposal.kind
    description = text_param(request.POST.get("description"), 5000) or proposal.description or proposal.excerpt
    if kind == "character":
        character, _ = Character.objects.get_or_create(
            owner=request.user, name=proposal.name, defaults={"backstory": description}
        )
        _, created = StoryCharacter.objects.get_or_create(
            story=task.story, character=character, defaults={"role": StoryCharacter.Role.MINOR, "importance": 3}
        )
        where = "the cast"
    else:
        _, created = WorldEntry.objects.get_or_create(
            story=task.story, name=proposal.name, defaults={"kind": kind, "description": description}
        )
        where = "the world"
    messages.success(
        request, f"Added “{proposal.name}” to {where}." if created else f"“{proposal.name}” was already in {where}."
    )
    return redirect(task)


@staff_member_required
def agent_metrics(request):
    """Per agent: how often it ran, how often it succeeded, and how long it takes (average and 95th percentile)."""
    rows = (
        GenerationStep.objects.exclude(status=GenerationStep.Status.PENDING)
        .values("agent")
        .annotate(
            calls=Count("pk"),
            succeeded=Count("pk", filter=Q(status=GenerationStep.Status.SUCCEEDED)),
            average_ms=Avg("duration_ms"),
        )
        .order_by("agent")
    )
    metrics = []
    for row in rows:
        durations = sorted(
            GenerationStep.objects.filter(agent=row["agent"], duration_ms__isnull=False).values_list(
                "duration_ms", flat=True
            )
        )
        p95 = durations[min(len(durations) - 1, int(0.95 * (len(durations) - 1) + 0.5))] if durations else None
        metrics.append(
            {
                **row,
                "label": dict(GenerationStep._meta.get_field("agent").choices).get(row["agent"], row["agent"]),
                "success_rate": row["succeeded"] / row["calls"] if row["calls"] else None,
                "p95_ms": p95,
            }
        )
    return render(request, "admin/agent_metrics.html", {"metrics": metrics, "title": "Agent metrics"})


def configured_services() -> dict:
    """Every outside service this site is set up to use, by key: what it is, a small real call that tests it, and
    for a model what it is trusted with and how to measure that (the self-test)."""
    services = {}
    for model in dict.fromkeys([None, *settings.LLM_STORY_MODELS]):
        target = llm.resolve(model)
        label = "The default model" if model is None else f"Offered to stories: {model}"
        services[f"llm:{model or ''}"] = {
            "name": f"{label} ({target.provider.name}, {target.model})", "probe": partial(llm.probe, model),
            "profile": f"{target.profile.kind}: {target.profile.source}",
            "measure": None if target.built_in else partial(measured, model),
        }  # fmt: skip
    for number, service in enumerate(making.configured()):
        services[f"image:{number}"] = {"name": str(service), "probe": service.probe}
    if settings.LANGUAGETOOL_URL:
        services["languagetool"] = {"name": f"LanguageTool at {settings.LANGUAGETOOL_URL}", "probe": probe_languagetool}
    return services


def measured(model) -> str:
    profile = llm.measure(model)
    answers = "; ".join(f"{a['name']}: {'right' if a['right'] else 'wrong'}" for a in profile.answers)
    return f"{profile.summary()} ({answers})"


@staff_member_required
def services_status(request):
    """The outside services, each with a Test button: one small real call, and what came back (or why not)."""
    services = configured_services()
    tested = None
    if request.method == "POST":
        action = "measure" if "measure" in request.POST else "probe"
        key = request.POST.get("measure" if action == "measure" else "test", "")
        if not services.get(key, {}).get(action):
            raise Http404("No such service.")
        try:
            tested = {"key": key, "ok": True, "answer": services[key][action]()}
        except ServiceError as failure:
            tested = {"key": key, "ok": False, "answer": str(failure)}
        services = configured_services()  # a measurement changes the profile shown
    rows = [  # no callables: the template language would call them
        {"key": key, "name": s["name"], "profile": s.get("profile", ""), "measurable": bool(s.get("measure"))}
        for key, s in services.items()
    ]
    return render(request, "admin/services.html", {"services": rows, "tested": tested, "title": "Services"})
