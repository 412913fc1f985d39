"""A worker's claim on a task, and the records it keeps while it runs the task.

A worker owns a task through its claim (the task's `attempts` when it started). A heartbeat thread reports for the
whole run, however long a model call takes, and every write (the task's state, each step's record) lands only
while the claim holds: if the task was handed to another worker meanwhile, this one stops without touching it.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from agents.team.kinds import AgentType
from agents.team.messages import AgentMessage, GateDecision, Plan, StepResult

from .models import GenerationStep, GenerationTask

log = logging.getLogger(__name__)


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


class Claim:
    """Writes to a task and its steps that land only while this worker owns the task."""

    def __init__(self, task: GenerationTask):
        self.task = task
        self.attempt = task.attempts
        self.heartbeat = Heartbeat(self.owned)

    def owned(self):
        """The task, as long as this worker's claim on it holds."""
        return GenerationTask.objects.filter(
            pk=self.task.pk, attempts=self.attempt, status=GenerationTask.Status.RUNNING
        )

    def still_held(self) -> bool:
        return not self.heartbeat.lost and self.owned().exists()

    def update(self, **fields):
        fields["heartbeat_at"] = timezone.now()
        if not self.owned().update(**fields):
            raise Superseded
        for name, value in fields.items():
            setattr(self.task, name, value)

    def write_step(self, key: str, **fields) -> GenerationStep:
        """Create or update a step record while holding the task row, so a superseded worker cannot overwrite the
        record of the worker that took over."""
        with transaction.atomic():
            if not self.owned().select_for_update(no_key=True).exists():
                raise Superseded
            step, _ = GenerationStep.objects.update_or_create(task=self.task, key=key, defaults=fields)
        return step

    # --- the records of one run -------------------------------------------------------------------------------

    def decided(self, key: str, reason: str, output, call=None) -> GenerationStep:
        """A decision of the director's (the plan, a quality gate): recorded as a finished step of its own, with
        the model call it took if it took one."""
        now = timezone.now()
        cost = (
            {"model": call.model, "prompt_tokens": call.prompt_tokens, "completion_tokens": call.completion_tokens,
             "duration_ms": call.duration_ms}
            if call else {"duration_ms": 0}
        )  # fmt: skip
        return self.write_step(
            key, agent=AgentType.CREATIVE_DIRECTOR, status=GenerationStep.Status.SUCCEEDED, reason=reason,
            output=output.stored(), started_at=now, finished_at=now, **cost,
        )  # fmt: skip

    def planned(self, planned):
        """The director's plan (agents.team.creative_director.Planned), with what it read in the note."""
        steps = [m.as_dict() for m in planned.steps]
        plan = Plan(steps=steps, intent=planned.intent, limits=planned.limits)
        self.decided("plan", planned.why, plan, planned.call)

    def gated(self, key: str, decision: GateDecision):
        self.decided(key, decision.reason, decision)

    def started(self, message: AgentMessage) -> float:
        previous = GenerationStep.objects.filter(task=self.task, key=message.key).first()
        self.write_step(
            message.key, agent=message.agent, reason=message.reason, status=GenerationStep.Status.RUNNING,
            attempt=(previous.attempt + 1) if previous else 1, started_at=timezone.now(), error="",
        )  # fmt: skip
        return time.monotonic()

    def failed(self, message: AgentMessage, started: float, error: Exception):
        self.write_step(
            message.key, status=GenerationStep.Status.FAILED, error=str(error), finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip

    def succeeded(self, message: AgentMessage, started: float, result: StepResult, fell_back: str = ""):
        """Done; `fell_back` says what went wrong and what stood in for it, when the step fell back."""
        self.write_step(
            message.key, status=GenerationStep.Status.SUCCEEDED, output=result.output.stored(), model=result.model,
            error=fell_back,
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
            finished_at=timezone.now(), duration_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip
