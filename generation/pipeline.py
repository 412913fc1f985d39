"""Runs a task's plan: steps whose dependencies are done run (in parallel when there are several), the director
gates each checked draft, and the outcome is offered to the writer. Every step is recorded (generation/steps.py)
under this worker's claim on the task; a task that is run again skips the steps that already succeeded, so a
crashed worker's task resumes where it stopped.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import connection
from django.utils import timezone

from agents.team import creative_director as director
from agents.team import registry
from agents.team.base import AgentContext
from agents.team.kinds import AgentType, Mode
from agents.team.messages import AgentMessage, QualityReport, StepResult, ready
from core.services import ServiceError

from .live import Live
from .models import GenerationStep, GenerationTask
from .reporting import outcome
from .steps import Claim, Superseded

log = logging.getLogger(__name__)
STEP_WEIGHTS = {AgentType.NARRATIVE_INTELLIGENCE: 6, AgentType.QUALITY_ASSURANCE: 2}
CANCEL_CHECK_SECONDS = 0.5
PROGRESS_SECONDS = 1.0


class Cancelled(Exception):
    pass


class Pipeline:
    def __init__(self, task: GenerationTask):
        self.task = task
        self.claim = Claim(task)
        self.live = Live(task, self.claim.attempt)
        self._cancel_checked, self._cancelled, self._progress_sent = 0.0, False, 0.0
        self.ctx = AgentContext(
            mode=task.mode, request=task.task_request, story=task.story, chapter=task.chapter,
            emit=self.live.token, should_cancel=self.cancelled, progress=self.step_progress,
        )  # fmt: skip

    def cancelled(self) -> bool:
        """Asked by the agents between tokens: the writer cancelled, or the task is no longer this worker's."""
        now = time.monotonic()
        if not self._cancelled and now - self._cancel_checked >= CANCEL_CHECK_SECONDS:
            self._cancel_checked = now
            self._cancelled = not self.claim.owned().filter(cancel_requested=False).exists()
        return self._cancelled

    def step_progress(self, done: int, total: int):
        """A long step's own progress (a check going through its passages), at most once a second. Only a plan
        of one step reports it, since the step is then the whole task."""
        now = time.monotonic()
        if len(self.task.plan or []) != 1 or now - self._progress_sent < PROGRESS_SECONDS:
            return
        self._progress_sent = now
        if self.cancelled():
            raise self.stop_reason()
        # Never backwards: a step may count its parts in phases (the ledger's pairs, then the sentence pairs).
        self.claim.update(progress=max(self.task.progress, min(99, int(100 * done / max(total, 1)))))
        self.live.state()

    def stop_reason(self) -> Exception:
        return Cancelled() if self.claim.still_held() else Superseded()

    def progress(self, plan, done) -> int:
        weight = lambda m: STEP_WEIGHTS.get(m.agent, 1)  # noqa: E731
        total = sum(weight(m) for m in plan) or 1
        return min(99, int(100 * sum(weight(m) for m in plan if m.key in done) / total))

    # --- running steps -------------------------------------------------------------------------------------------

    def run_step(self, message: AgentMessage, outputs: dict) -> StepResult:
        """One agent step, recorded. Runs in a worker thread when steps run in parallel. A failing step is tried
        once more, then falls back (the writer to the fallback model, other agents to a degraded output that says
        what was skipped); only a step with no fallback fails the task."""
        started = self.claim.started(message)
        message.context = dict(outputs)
        failure = None
        for attempt in (1, 2):
            if attempt == 2 and self.cancelled():
                raise self.stop_reason()
            try:
                result = self.attempt(message)
            except (Cancelled, Superseded):
                raise
            except Exception as exc:
                log.warning("Step %s of task %s failed (attempt %s)", message.key, self.task.pk, attempt, exc_info=True)
                failure = exc
                continue
            self.claim.succeeded(message, started, result)
            return result
        return self.fall_back(message, started, failure)

    def attempt(self, message: AgentMessage) -> StepResult:
        if message.agent == AgentType.NARRATIVE_INTELLIGENCE:
            self.live.start_draft()  # a second try starts the draft again
        return registry.run(self.ctx, message)

    def fall_back(self, message: AgentMessage, started: float, failure: Exception) -> StepResult:
        alternative = registry.alternative(self.ctx, message)
        try:
            if alternative is not None:
                result = self.attempt(alternative)
                note = f"{failure} Written by {alternative.payload['model']} instead."
            elif (result := registry.degraded(message, failure)) is not None:
                note = f"{failure} Skipped: {registry.what_is_skipped(message)}."
            else:
                raise failure
        except (Cancelled, Superseded):
            raise
        except Exception as exc:
            self.claim.failed(message, started, exc)
            raise
        self.claim.succeeded(message, started, result, fell_back=note)
        return result

    def run_batch(self, batch: list[AgentMessage], outputs: dict) -> dict:
        """Independent steps at once, each thread with its own database connection."""
        if len(batch) == 1:
            return {batch[0].key: self.run_step(batch[0], outputs).output}

        def in_thread(message):
            try:
                return self.run_step(message, outputs).output
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=len(batch)) as pool:
            futures = {m.key: pool.submit(in_thread, m) for m in batch}
            return {key: future.result() for key, future in futures.items()}

    # --- the task ------------------------------------------------------------------------------------------------

    def load_plan(self) -> list[AgentMessage]:
        if self.task.plan:
            return [AgentMessage(**step) for step in self.task.plan]
        planned = director.plan(self.ctx)
        self.claim.planned(planned)
        self.claim.update(plan=[m.as_dict() for m in planned.steps])
        return planned.steps

    def completed_outputs(self, plan: list[AgentMessage]) -> dict:
        """What earlier runs of this task already produced (a resumed task does not redo it), typed again."""
        steps = {m.key: m for m in plan}
        done = self.task.steps.filter(status=GenerationStep.Status.SUCCEEDED, key__in=list(steps))
        return {s.key: registry.read_output(steps[s.key], s.output) for s in done}

    def run(self):
        plan = self.load_plan()
        outputs = self.completed_outputs(plan)
        self.live.state()
        # "done" marks the accepted draft; it is bookkeeping, not a step to run.
        while batch := [m for m in ready(plan, set(outputs), set()) if m.task_type != "assemble"]:
            if self.cancelled():
                raise self.stop_reason()
            agents = sorted({m.agent for m in batch}, key=lambda a: a != AgentType.NARRATIVE_INTELLIGENCE)
            self.claim.update(current_agent=agents[0], progress=self.progress(plan, outputs))
            self.live.state()
            outputs.update(self.run_batch(batch, outputs))
            self.live.flush()
            for message in batch:
                if message.agent == AgentType.QUALITY_ASSURANCE and message.task_type == "check":  # a draft's check
                    plan += self.decide(message, plan, outputs[message.key])
                if getattr(outputs[message.key], "cancelled", False):  # a draft or a picture stopped midway
                    raise self.stop_reason()
            if self.task.mode == Mode.BRAINSTORM and "write" in outputs and not any(m.key == "done" for m in plan):
                plan.append(AgentMessage("done", AgentType.CREATIVE_DIRECTOR, "assemble", dependencies=["write"]))
            self.claim.update(plan=[m.as_dict() for m in plan], progress=self.progress(plan, outputs))
        self.finish(plan, outputs)

    def decide(self, check: AgentMessage, plan: list[AgentMessage], report: QualityReport) -> list[AgentMessage]:
        """The director's quality gate after a check: more steps to run (a rewrite, or work on the accepted draft)."""
        rewrites = sum(1 for m in plan if m.key.startswith("write-retry-"))
        draft_key = check.payload["draft"]
        decision = director.gate(report, rewrites, self.ctx.target.profile).model_copy(
            update={"draft": draft_key, "verdict": report.verdict}
        )
        self.claim.gated(f"gate-{rewrites}", decision)
        if decision.action == "retry":
            previous = next(m for m in plan if m.key == draft_key)
            return director.retry_steps(previous, rewrites + 1, decision.feedback)
        return director.follow_up(self.ctx, draft_key) + [
            AgentMessage("done", AgentType.CREATIVE_DIRECTOR, "assemble", dependencies=[draft_key])
        ]

    def finish(self, plan, outputs):
        if self.task.makes_picture:
            picture = outputs[plan[0].key]
            self.claim.update(
                status=GenerationTask.Status.SUCCEEDED, progress=100, current_agent="", picture_id=picture.picture_id,
                result_content=picture.prompt, proposal_status=GenerationTask.Proposal.PENDING,
                finished_at=timezone.now(),
            )  # fmt: skip
            return
        result = outcome(plan, outputs)
        writer = GenerationStep.objects.filter(task=self.task, key=result.draft_key).first()
        # A check proposes nothing: its findings are the result.
        proposal = GenerationTask.Proposal.NONE if self.task.mode == Mode.CHECK else GenerationTask.Proposal.PENDING
        self.claim.update(
            status=GenerationTask.Status.SUCCEEDED,
            progress=100,
            current_agent="",
            result_content=result.draft.text,
            partial_content=result.draft.text,
            quality_report=result.report.stored() if result.report else {},
            context_report=result.context.model_dump(mode="json"),
            model_name=writer.model if writer else "",
            proposal_status=proposal,
            finished_at=timezone.now(),
        )


def execute(task: GenerationTask):
    """Run (or resume) a claimed task to its end: succeeded, failed with a reason, or cancelled. If the task was
    handed to another worker meanwhile, stop and leave it to that worker."""
    pipeline = Pipeline(task)
    pipeline.claim.heartbeat.start()
    try:
        try:
            pipeline.run()
        except Cancelled:
            pipeline.live.flush()
            pipeline.claim.update(
                status=GenerationTask.Status.CANCELLED,
                current_agent="",
                partial_content=pipeline.live.text or task.partial_content,
                finished_at=timezone.now(),
            )
        except Superseded:
            raise
        except ServiceError as exc:  # a model or an image service failed: its message is the writer's
            pipeline.claim.update(
                status=GenerationTask.Status.FAILED, current_agent="", error=str(exc), finished_at=timezone.now()
            )
        except Exception as exc:
            log.exception("Generation task %s failed", task.pk)
            pipeline.claim.update(
                status=GenerationTask.Status.FAILED,
                current_agent="",
                error=f"Something went wrong in the {task.current_agent or 'pipeline'} step: {exc}",
                finished_at=timezone.now(),
            )
        pipeline.live.state()
    except Superseded:
        log.warning("Generation task %s was taken over by another worker; this one stops", task.pk)
    finally:
        pipeline.claim.heartbeat.stop()
