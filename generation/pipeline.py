"""Runs a task's plan: steps whose dependencies are done run (in parallel when there are several), each one
recorded as a GenerationStep with its timing, tokens and outcome. A task that is run again skips the steps that
already succeeded, so a crashed worker's task resumes where it stopped.

A worker owns a task through its claim (the task's `attempts` when it started). A heartbeat thread reports for
the whole run, however long a model call takes, and every write is conditional on the claim: if the task was
given to another worker meanwhile, this one stops without touching it.
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from agents import creative_director as director
from agents import llm
from agents.base import AgentContext
from agents.kinds import AgentType, Mode
from agents.messages import AgentMessage, StepResult, ready

from .live import Live
from .models import GenerationHistory, GenerationStep, GenerationTask

log = logging.getLogger(__name__)
STEP_WEIGHTS = {AgentType.NARRATIVE_INTELLIGENCE: 6, AgentType.QUALITY_ASSURANCE: 2}
CANCEL_CHECK_SECONDS = 0.5


class Cancelled(Exception):
    pass


class Superseded(Exception):
    """This worker no longer owns the task (it was judged abandoned and handed to another); stop, write nothing."""


class Heartbeat(threading.Thread):
    """Tells the dispatcher this worker is alive, every GENERATION_ABANDONED_AFTER / 6 seconds, for as long as the
    task runs. It stops, and marks the task lost to this worker, once the claim no longer holds."""

    def __init__(self, owned):
        super().__init__(daemon=True, name="generation-heartbeat")
        self.owned, self.lost = owned, False
        self.stopped = threading.Event()
        self.every = max(1.0, settings.GENERATION_ABANDONED_AFTER / 6)

    def run(self):
        try:
            while not self.stopped.wait(self.every):
                try:
                    if not self.owned().update(heartbeat_at=timezone.now()):
                        self.lost = True
                        return
                except DatabaseError:
                    log.warning("Heartbeat not written (database unavailable); trying again", exc_info=True)
                finally:
                    connection.close()  # back to the pool between beats
        finally:
            connection.close()

    def stop(self):
        self.stopped.set()


class Pipeline:
    def __init__(self, task: GenerationTask):
        self.task = task
        self.attempt = task.attempts
        self.live = Live(task, self.attempt)
        self.heartbeat = Heartbeat(self.owned)
        self._cancel_checked, self._cancelled = 0.0, False
        self.ctx = AgentContext(
            mode=task.mode, request=dict(task.request or {}), story=task.story, chapter=task.chapter,
            emit=self.live.token, should_cancel=self.cancelled,
        )  # fmt: skip

    # --- bookkeeping ---------------------------------------------------------------------------------------------

    def owned(self):
        """The task, as long as this worker's claim on it holds."""
        return GenerationTask.objects.filter(
            pk=self.task.pk, attempts=self.attempt, status=GenerationTask.Status.RUNNING
        )

    def cancelled(self) -> bool:
        """Asked by the agents between tokens: the writer cancelled, or the task is no longer this worker's."""
        now = time.monotonic()
        if not self._cancelled and now - self._cancel_checked >= CANCEL_CHECK_SECONDS:
            self._cancel_checked = now
            self._cancelled = self.heartbeat.lost or not self.owned().filter(cancel_requested=False).exists()
        return self._cancelled

    def stop_reason(self) -> Exception:
        return Superseded() if self.heartbeat.lost or not self.owned().exists() else Cancelled()

    def update(self, **fields):
        fields["heartbeat_at"] = timezone.now()
        if not self.owned().update(**fields):
            raise Superseded
        for name, value in fields.items():
            setattr(self.task, name, value)

    def write_step(self, key: str, **fields) -> GenerationStep:
        """Create or update a step record while holding the task row, so a superseded worker cannot overwrite
        the record of the worker that took over."""
        with transaction.atomic():
            if not self.owned().select_for_update(no_key=True).exists():
                raise Superseded
            step, _ = GenerationStep.objects.update_or_create(task=self.task, key=key, defaults=fields)
        return step

    def progress(self, plan, done) -> int:
        weight = lambda m: STEP_WEIGHTS.get(m.agent, 1)  # noqa: E731
        total = sum(weight(m) for m in plan) or 1
        return min(99, int(100 * sum(weight(m) for m in plan if m.key in done) / total))

    def record(self, message: AgentMessage, **fields) -> GenerationStep:
        return self.write_step(message.key, agent=message.agent, reason=message.reason, **fields)

    # --- running steps -------------------------------------------------------------------------------------------

    def run_step(self, message: AgentMessage, outputs: dict) -> StepResult:
        """One agent step, recorded. Runs in a worker thread when steps run in parallel."""
        previous = GenerationStep.objects.filter(task=self.task, key=message.key).first()
        step = self.record(
            message,
            status=GenerationStep.Status.RUNNING,
            attempt=(previous.attempt + 1) if previous else 1,
            started_at=timezone.now(),
            error="",
        )
        if message.agent == AgentType.NARRATIVE_INTELLIGENCE:
            self.live.start_draft()
        started = time.monotonic()
        message.context = {key: outputs[key] for key in outputs}
        try:
            result = director.AGENTS[(message.agent, message.task_type)](self.ctx, message)
        except Exception as exc:
            self.write_step(
                step.key,
                status=GenerationStep.Status.FAILED,
                error=str(exc),
                finished_at=timezone.now(),
                duration_ms=int((time.monotonic() - started) * 1000),
            )
            raise
        self.write_step(
            step.key,
            status=GenerationStep.Status.SUCCEEDED,
            output=result.output,
            model=result.model,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - started) * 1000),
        )
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
        plan, why = director.plan(self.ctx)
        self.write_step(
            "plan",
            agent=AgentType.CREATIVE_DIRECTOR,
            status=GenerationStep.Status.SUCCEEDED,
            reason=why,
            output={"steps": [m.as_dict() for m in plan]},
            started_at=timezone.now(),
            finished_at=timezone.now(),
            duration_ms=0,
        )
        self.update(plan=[m.as_dict() for m in plan])
        return plan

    def run(self):
        plan = self.load_plan()
        done = {s.key: s.output for s in self.task.steps.filter(status=GenerationStep.Status.SUCCEEDED)}
        outputs = {k: v for k, v in done.items() if k != "plan" and not k.startswith("gate")}
        self.live.state()
        # "done" marks the accepted draft; it is bookkeeping, not a step to run.
        while batch := [m for m in ready(plan, set(outputs), set()) if m.task_type != "assemble"]:
            if self.cancelled():
                raise self.stop_reason()
            agents = sorted({m.agent for m in batch}, key=lambda a: a != AgentType.NARRATIVE_INTELLIGENCE)
            self.update(current_agent=agents[0], progress=self.progress(plan, outputs))
            self.live.state()
            outputs.update(self.run_batch(batch, outputs))
            self.live.flush()
            for message in batch:
                if message.agent == AgentType.QUALITY_ASSURANCE:
                    plan += self.decide(message, plan, outputs[message.key])
                if message.agent == AgentType.NARRATIVE_INTELLIGENCE and outputs[message.key].get("cancelled"):
                    raise self.stop_reason()
            if self.task.mode == Mode.BRAINSTORM and "write" in outputs and not any(m.key == "done" for m in plan):
                plan.append(AgentMessage("done", AgentType.CREATIVE_DIRECTOR, "assemble", dependencies=["write"]))
            self.update(plan=[m.as_dict() for m in plan], progress=self.progress(plan, outputs))
        self.finish(plan, outputs)

    def decide(self, check: AgentMessage, plan: list[AgentMessage], report: dict) -> list[AgentMessage]:
        """The director's quality gate after a check: more steps to run (a rewrite, or work on the accepted draft)."""
        rewrites = sum(1 for m in plan if m.key.startswith("write-retry-"))
        decision = director.gate(report, rewrites)
        draft_key = check.payload["draft"]
        self.write_step(
            f"gate-{rewrites}",
            agent=AgentType.CREATIVE_DIRECTOR,
            status=GenerationStep.Status.SUCCEEDED,
            reason=decision["reason"],
            output={**decision, "draft": draft_key, "verdict": report.get("verdict")},
            started_at=timezone.now(),
            finished_at=timezone.now(),
            duration_ms=0,
        )
        if decision["action"] == "retry":
            previous = next(m for m in plan if m.key == draft_key)
            return director.retry_steps(previous, rewrites + 1, decision["feedback"])
        return director.follow_up(self.ctx, draft_key) + [
            AgentMessage("done", AgentType.CREATIVE_DIRECTOR, "assemble", dependencies=[draft_key])
        ]

    def final_draft(self, plan) -> str:
        done = next((m for m in plan if m.key == "done"), None)
        return done.dependencies[0] if done else "write"

    def finish(self, plan, outputs):
        draft_key = self.final_draft(plan)
        draft = outputs.get(draft_key, {})
        checks = [m.key for m in plan if m.agent == AgentType.QUALITY_ASSURANCE and m.key in outputs]
        report = outputs[checks[-1]] if checks else {}
        context = outputs.get("context", {})
        context_report = {
            "sections": [{k: s[k] for k in ("title", "why", "tokens")} for s in context.get("sections", [])],
            "left_out": context.get("left_out", []),
            "budget": context.get("budget"),
            "used": context.get("used"),
            "world": outputs.get("world", {}).get("why", ""),
            "world_proposals": outputs.get("world-proposals", {}).get("proposals", []),
            "trimmed": draft.get("trimmed", []),
        }
        write_step = GenerationStep.objects.filter(task=self.task, key=draft_key).first()
        with transaction.atomic():  # the outcome and its history row land together
            self.update(
                status=GenerationTask.Status.SUCCEEDED,
                progress=100,
                current_agent="",
                result_content=draft.get("text", ""),
                partial_content=draft.get("text", ""),
                quality_report=report,
                context_report=context_report,
                proposal_status=GenerationTask.Proposal.PENDING,
                finished_at=timezone.now(),
            )
            GenerationHistory.objects.update_or_create(
                task=self.task,
                defaults={
                    "story": self.task.story,
                    "chapter": self.task.chapter,
                    "requested_by": self.task.user,
                    "agent_type": AgentType.NARRATIVE_INTELLIGENCE,
                    "model_name": write_step.model if write_step else "",
                    "input_context": {"request": self.task.request, "mode": self.task.mode, **context_report},
                    "generated_content": draft.get("text", ""),
                },
            )


def execute(task: GenerationTask):
    """Run (or resume) a claimed task to its end: succeeded, failed with a reason, or cancelled. If the task was
    handed to another worker meanwhile, stop and leave it to that worker."""
    pipeline = Pipeline(task)
    pipeline.heartbeat.start()
    try:
        try:
            pipeline.run()
        except Cancelled:
            pipeline.live.flush()
            pipeline.update(
                status=GenerationTask.Status.CANCELLED,
                current_agent="",
                partial_content=pipeline.live.text or task.partial_content,
                finished_at=timezone.now(),
            )
        except Superseded:
            raise
        except llm.LLMError as exc:
            pipeline.update(
                status=GenerationTask.Status.FAILED, current_agent="", error=str(exc), finished_at=timezone.now()
            )
        except Exception as exc:
            log.exception("Generation task %s failed", task.pk)
            pipeline.update(
                status=GenerationTask.Status.FAILED,
                current_agent="",
                error=f"Something went wrong in the {task.current_agent or 'pipeline'} step: {exc}",
                finished_at=timezone.now(),
            )
        pipeline.live.state()
    except Superseded:
        log.warning("Generation task %s was taken over by another worker; this one stops", task.pk)
    finally:
        pipeline.heartbeat.stop()
