import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from agents.memory import store as memory
from agents.models import IgnoredFinding
from agents.tasks import extract_continuity
from agents.team.kinds import IMAGE_MODES, AgentType, Mode
from agents.team.messages import ContextReport, QualityReport
from agents.team.requests import TaskRequest
from core.queues import enqueue_after_commit
from stories.models import Chapter, ChapterRevision, EditRefused
from stories.sharing import Role, StoryMembership


class GenerationTaskQuerySet(models.QuerySet):
    def for_user(self, user):
        """The user's own tasks on stories they still write: their own, or as a co-author (a collaborator who was
        removed or made an editor can no longer see or accept what their tasks proposed)."""
        return self.filter(user=user).written_by(user)

    def written_by(self, user):
        """Tasks on stories the user writes (owns, or is a co-author of), whoever asked for them: the writers
        review each other's proposals, beside the editors' suggestions."""
        co_author = StoryMembership.objects.filter(story=OuterRef("story"), user=user, role=Role.CO_AUTHOR)
        return self.filter(story__deleted_at__isnull=True, story__is_flagged=False).filter(
            Q(story__owner=user) | Exists(co_author)
        )

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

    Mode = Mode

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
    # What a portrait or illustration task made, for the writer to accept.
    picture = models.ForeignKey(
        "pictures.Picture", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    error = models.TextField(blank=True)
    # The model that wrote the draft, and how the writer rated it (1-5): staff compare models on it.
    model_name = models.CharField(max_length=200, blank=True)
    user_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Claims by a worker (each resumes from the last completed step), and hand-overs to the queue.
    attempts = models.PositiveSmallIntegerField(default=0)
    dispatches = models.PositiveSmallIntegerField(default=0)
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
            models.CheckConstraint(
                condition=Q(user_rating__isnull=True) | Q(user_rating__gte=1, user_rating__lte=5),
                name="generationtask_rating_1_5",
            ),
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
            # dispatch.estimate_seconds (every queued writer's status poll): the latest finished generations,
            # read from the index instead of sorting every task the site ever ran.
            models.Index(
                fields=["-finished_at", "started_at"],
                name="gentask_succeeded_recent_idx",
                condition=Q(status="succeeded", started_at__isnull=False, finished_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.get_mode_display()} for {self.story} ({self.status})"

    def get_absolute_url(self):
        return reverse("task_detail", args=[self.pk])

    @property
    def task_request(self) -> TaskRequest:
        """What the writer asked (stored as JSON in `request`)."""
        return TaskRequest.model_validate(self.request or {})

    @property
    def makes_picture(self) -> bool:
        return self.mode in IMAGE_MODES

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

    @property
    def quality(self) -> QualityReport | None:
        """The quality report of the draft, if it was checked."""
        return QualityReport.model_validate(self.quality_report) if self.quality_report else None

    @property
    def context(self) -> ContextReport | None:
        """What the draft was written from, once the task finished."""
        return ContextReport.model_validate(self.context_report) if self.context_report else None

    def ignore_finding(self, fingerprint: str) -> bool:
        """Remember the writer dismissed this finding of the task's report, for the whole story."""
        report = self.quality
        findings = report.findings if report else []
        finding = next((f for f in findings if fingerprint and f.fingerprint == fingerprint), None)
        if finding is None:
            return False
        for key in (fingerprint, *finding.same_as):  # the same passage as other checks found it
            IgnoredFinding.objects.get_or_create(
                story=self.story, fingerprint=key, defaults={"kind": finding.check, "message": finding.message}
            )
        finding.ignored = True
        self.quality_report = report.stored()
        self.save(update_fields=["quality_report"])
        return True

    def rate(self, rating: int):
        """The writer's rating; a draft rated 4 or 5 becomes a style example for their next requests in the story
        (unless they switched that off), and a lower rating withdraws it."""
        GenerationTask.objects.filter(pk=self.pk).update(user_rating=rating)
        self.user_rating = rating
        if self.mode not in (self.Mode.BRAINSTORM, self.Mode.CHECK, *IMAGE_MODES):
            memory.remember_style(self.story, f"task-{self.pk}", self.result_content, rating)

    def accept_picture(self):
        """Keep the portrait or illustration this task made; a second accept of the same proposal is refused."""
        with transaction.atomic():
            locked = GenerationTask.objects.select_for_update().get(pk=self.pk)
            if locked.proposal_status != self.Proposal.PENDING or locked.picture_id is None:
                raise ProposalConflict("This picture was already accepted or discarded.")
            locked.picture.accept()
            GenerationTask.objects.filter(pk=self.pk).update(proposal_status=self.Proposal.ACCEPTED)
            self.proposal_status = self.Proposal.ACCEPTED
        return locked.picture

    def discard_proposal(self):
        """Set the proposal aside; a discarded picture stays in the story's gallery under Discarded, for a while."""
        updated = GenerationTask.objects.filter(pk=self.pk, proposal_status=self.Proposal.PENDING).update(
            proposal_status=self.Proposal.DISCARDED
        )
        if updated and self.picture_id:
            self.picture.discard()

    def accept_proposal(self, user, text: str | None = None) -> Chapter:
        """Put the (possibly edited) proposal into the story as a new revision; returns the chapter it went into.

        The task row is locked first and the proposal must still be pending, so a double click or a second tab
        accepting the same proposal is refused instead of inserting the text twice."""
        if self.mode == self.Mode.BRAINSTORM:
            raise ProposalConflict("Brainstormed options are ideas to pick from, not text to insert.")
        if self.makes_picture:
            raise ProposalConflict("A picture is accepted into the gallery, not inserted into the text.")
        with transaction.atomic():
            locked = GenerationTask.objects.select_for_update().get(pk=self.pk)
            if locked.proposal_status != self.Proposal.PENDING:
                raise ProposalConflict("This proposal was already accepted or discarded.")
            text = (text if text is not None else locked.result_content).strip()
            if not text:
                raise ProposalConflict("The proposal is empty.")
            note = f"Accepted from the AI agents ({self.get_mode_display().lower()})"
            revision = {"revision_author": user, "revision_source": ChapterRevision.Source.AGENT, "revision_note": note}
            try:
                if self.mode == self.Mode.NEXT_CHAPTER:
                    after = self.chapter if self.chapter_id else None
                    chapter = self.story.insert_chapter(text, after=after, title=self.task_request.chapter_title,
                                                        **revision)  # fmt: skip
                else:
                    chapter = Chapter.objects.select_for_update().get(pk=self.chapter_id)
                    chapter = chapter.save_content(
                        self._edited(chapter, text), base_version=chapter.version, author=user,
                        source=ChapterRevision.Source.AGENT, note=note,
                    )  # fmt: skip
            except EditRefused as refused:
                raise ProposalConflict(str(refused)) from refused
            GenerationTask.objects.filter(pk=self.pk).update(proposal_status=self.Proposal.ACCEPTED)
            self.proposal_status = self.Proposal.ACCEPTED
            enqueue_after_commit(extract_continuity, chapter.pk)  # the story bible and later chapters remember it
            if text != locked.result_content.strip():
                # The writer's own edit of a draft shows their style as well as a 5-star rating does.
                edited = f"task-{self.pk}-edited"
                transaction.on_commit(lambda: memory.remember_style(self.story, edited, text, 5))
        return chapter

    def _edited(self, chapter, text) -> str:
        """The chapter's text with the proposal where the writer asked for it (Chapter does the editing)."""
        request = self.task_request
        if self.mode == self.Mode.REWRITE:
            selection = request.selection
            if selection is None:
                raise ProposalConflict("The request named no passage to replace.")
            return chapter.with_passage_replaced(selection.start, selection.end, selection.text, text)
        cursor = request.cursor_in(chapter.content)
        return chapter.with_text_inserted(text, cursor, request.before_cursor, request.base_version)

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


class ProposalConflict(Exception):
    """The proposal cannot be applied as asked (already accepted, the chapter changed under it, or it would make the
    chapter too long); the message says why, and nothing was changed."""
