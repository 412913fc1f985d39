import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class AgentType(models.TextChoices):
    CREATIVE_DIRECTOR = "creative_director", "Creative director"
    WORLD_BUILDING = "world_building", "World building"
    CONTINUATION_CONTEXT = "continuation_context", "Continuation context"
    NARRATIVE_INTELLIGENCE = "narrative_intelligence", "Narrative writer"
    QUALITY_ASSURANCE = "quality_assurance", "Quality assurance"
    VISUAL_STORYTELLING = "visual_storytelling", "Visual storytelling"


class GenerationHistoryQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(story__owner=user)


class GenerationHistory(models.Model):
    """Everything an agent produced for a story, with the inputs it saw and the writer's rating."""

    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="generation_history")
    chapter = models.ForeignKey(
        "stories.Chapter", null=True, blank=True, on_delete=models.SET_NULL, related_name="generation_history"
    )
    task = models.OneToOneField(
        "GenerationTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="history"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent_type = models.CharField(max_length=30, choices=AgentType.choices)
    model_name = models.CharField(max_length=200, blank=True)
    input_context = models.JSONField(default=dict, blank=True)
    generated_content = models.TextField(blank=True)
    user_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GenerationHistoryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "generation history"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user_rating__isnull=True) | Q(user_rating__gte=1, user_rating__lte=5),
                name="generationhistory_rating_1_5",
            ),
        ]
        indexes = [
            # A story's generation history, newest first.
            models.Index(fields=["story", "-created_at"], name="genhistory_story_created_idx"),
        ]

    def __str__(self):
        return f"{self.get_agent_type_display()} for {self.story} at {self.created_at:%Y-%m-%d %H:%M}"


class GenerationTaskQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user, story__deleted_at__isnull=True, story__is_flagged=False)

    def active(self):
        return self.filter(status__in=[GenerationTask.Status.QUEUED, GenerationTask.Status.RUNNING])


class GenerationTask(models.Model):
    """One request to the agents, and everything about how it went. The worker keeps its state here, so a task
    survives a worker crash, a page reload and a Redis restart."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Mode(models.TextChoices):
        NEXT_CHAPTER = "next_chapter", "Write the next chapter"
        CONTINUE = "continue", "Continue from the cursor"
        REWRITE = "rewrite", "Rewrite the selection"
        DIALOGUE = "dialogue", "Write dialogue"
        BRAINSTORM = "brainstorm", "Brainstorm options"

    class Proposal(models.TextChoices):
        NONE = "", "No proposal yet"
        PENDING = "pending", "Waiting for the writer"
        ACCEPTED = "accepted", "Accepted"
        DISCARDED = "discarded", "Discarded"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_tasks")
    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="generation_tasks")
    chapter = models.ForeignKey(
        "stories.Chapter", null=True, blank=True, on_delete=models.SET_NULL, related_name="generation_tasks"
    )
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.NEXT_CHAPTER)
    # What the writer asked: note, selection or cursor, chosen characters. Validated by generation.forms.
    request = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    current_agent = models.CharField(max_length=30, choices=AgentType.choices, blank=True)
    plan = models.JSONField(default=list, blank=True)
    context_report = models.JSONField(default=dict, blank=True)
    partial_content = models.TextField(blank=True)
    result_content = models.TextField(blank=True)
    quality_report = models.JSONField(default=dict, blank=True)
    proposal_status = models.CharField(max_length=10, choices=Proposal.choices, blank=True, default="")
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = GenerationTaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="generationtask_progress_0_100"),
        ]
        indexes = [
            # The dispatcher: queued and running tasks, oldest first.
            models.Index(
                fields=["status", "created_at"],
                name="gentask_active_idx",
                condition=Q(status__in=["queued", "running"]),
            ),
            # The workspace: a story's recent tasks.
            models.Index(fields=["story", "-created_at"], name="gentask_story_created_idx"),
        ]

    def __str__(self):
        return f"{self.get_mode_display()} for {self.story} ({self.status})"

    def get_absolute_url(self):
        return reverse("task_detail", args=[self.pk])

    @property
    def is_finished(self):
        return self.status in self.FINISHED

    @property
    def group_name(self):
        return f"task-{self.pk}"

    @property
    def duration_seconds(self):
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def ignore_finding(self, fingerprint: str) -> bool:
        """Remember the writer dismissed this finding of the task's report, for the whole story."""
        from agents.models import IgnoredFinding

        report = dict(self.quality_report or {})
        finding = next(
            (f for f in report.get("findings", []) if fingerprint and f.get("fingerprint") == fingerprint), None
        )
        if finding is None:
            return False
        IgnoredFinding.objects.get_or_create(
            story=self.story,
            fingerprint=fingerprint,
            defaults={"kind": finding["check"], "message": finding["message"]},
        )
        finding["ignored"] = True
        self.quality_report = report
        self.save(update_fields=["quality_report"])
        return True

    def request_cancel(self):
        """Queued tasks stop at once; running ones stop at the next token or step."""
        if self.is_finished:
            return
        updated = GenerationTask.objects.filter(pk=self.pk, status=self.Status.QUEUED).update(
            status=self.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now(), current_agent=""
        )
        if not updated:
            GenerationTask.objects.filter(pk=self.pk).update(cancel_requested=True)
        self.refresh_from_db()


class GenerationStep(models.Model):
    """One agent's part of a task, like a smolagents step record: timing, tokens, model, outcome, and why."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    task = models.ForeignKey(GenerationTask, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=60, help_text="The step's name in the plan, e.g. write or write-retry-1")
    agent = models.CharField(max_length=30, choices=AgentType.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt = models.PositiveSmallIntegerField(default=1)
    reason = models.TextField(blank=True, help_text="Why the director took this step")
    output = models.JSONField(default=dict, blank=True)
    model = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            # A step runs once per task; re-running a task resumes from its completed steps.
            models.UniqueConstraint(fields=["task", "key"], name="generationstep_task_key_unique"),
        ]
        indexes = [
            # Agent metrics in the admin.
            models.Index(fields=["agent", "status"], name="genstep_agent_status_idx"),
        ]

    def __str__(self):
        return f"{self.key} ({self.status})"


class ApiToken(models.Model):
    """A bearer token for programs calling the JSON API; only a hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str) -> tuple["ApiToken", str]:
        """Create a token; the plain key is returned once and never stored."""
        key = "sa_" + secrets.token_urlsafe(32)
        return cls.objects.create(user=user, name=name, key_hash=cls.hash(key), prefix=key[:8]), key

    @classmethod
    def authenticate(cls, key: str):
        token = cls.objects.select_related("user").filter(key_hash=cls.hash(key), user__is_active=True).first()
        if token:
            cls.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
            return token.user
        return None


class ProposalConflict(Exception):
    """The chapter changed under the proposal in a way that makes applying it unsafe; nothing was changed."""


def start_generation(user, story, mode: str, request: dict, chapter=None) -> GenerationTask:
    """Queue a request; the dispatcher starts it when a slot is free and it is this writer's turn."""
    from django.db import transaction

    from .dispatch import dispatch

    task = GenerationTask.objects.create(user=user, story=story, chapter=chapter, mode=mode, request=request)
    transaction.on_commit(dispatch)
    return task


def accept_proposal(task: GenerationTask, user, text: str | None = None):
    """Put the (possibly edited) proposal into the story as a new revision; returns the chapter it went into."""
    from django.db import transaction

    from stories.models import Chapter, ChapterRevision

    if task.proposal_status != GenerationTask.Proposal.PENDING:
        raise ProposalConflict("This proposal was already accepted or discarded.")
    if task.mode == GenerationTask.Mode.BRAINSTORM:
        raise ProposalConflict("Brainstormed options are ideas to pick from, not text to insert.")
    text = (text if text is not None else task.result_content).strip()
    if not text:
        raise ProposalConflict("The proposal is empty.")
    note = f"Accepted from the AI agents ({task.get_mode_display().lower()})"
    with transaction.atomic():
        if task.mode == GenerationTask.Mode.NEXT_CHAPTER:
            chapter = _insert_chapter(task, text, user, note)
        else:
            chapter = Chapter.objects.select_for_update().get(pk=task.chapter_id)
            content = _apply_to_text(task, chapter, text)
            chapter = chapter.save_content(
                content, base_version=chapter.version, author=user, source=ChapterRevision.Source.AGENT, note=note
            )
        GenerationTask.objects.filter(pk=task.pk).update(proposal_status=GenerationTask.Proposal.ACCEPTED)
        task.proposal_status = GenerationTask.Proposal.ACCEPTED
        from stories.tasks import enqueue_after_commit, extract_continuity

        enqueue_after_commit(extract_continuity, chapter.pk)  # the story bible and later chapters remember it
    return chapter


def _insert_chapter(task, text, user, note):
    from stories.models import Chapter, ChapterRevision

    story = task.story
    order = (task.chapter.order + 1) if task.chapter_id else story.next_chapter_order()
    # Make room after the chapter it follows (the order constraint is checked at commit).
    for later in story.chapters.filter(order__gte=order).order_by("-order"):
        Chapter.objects.filter(pk=later.pk).update(order=later.order + 1)
    chapter = Chapter(story=story, order=order, title=task.request.get("chapter_title") or f"Chapter {order}")
    chapter.content = text
    chapter.revision_author, chapter.revision_source, chapter.revision_note = user, ChapterRevision.Source.AGENT, note
    chapter.save()
    return chapter


def _apply_to_text(task, chapter, text) -> str:
    content, request = chapter.content, task.request
    unchanged = chapter.version == request.get("base_version")
    if task.mode == GenerationTask.Mode.REWRITE:
        selection = request.get("selection") or {}
        start, end = selection.get("start", 0), selection.get("end", 0)
        if content[start:end] != selection.get("text"):
            raise ProposalConflict(
                "The passage you asked to rewrite has changed since. Nothing was replaced: copy the proposal "
                "into the chapter yourself, or ask for a new rewrite."
            )
        return content[:start] + text + content[end:]
    cursor = request.get("cursor", len(content))
    if not unchanged and content[max(0, cursor - 200) : cursor] != request.get("before_cursor", ""):
        cursor = len(content)  # the text moved since: add to the end rather than into the middle of a sentence
    before, after = content[:cursor], content[cursor:]
    joiner = "\n\n" if before and not before.endswith("\n") else ""
    return before + joiner + text + ("\n\n" if after and not after.startswith("\n") else "") + after
