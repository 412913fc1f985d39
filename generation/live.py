"""Live updates flow one way: the worker saves state, renders a partial and sends it to the task's group; the
consumer forwards the HTML to htmx's ws extension, which swaps it in out of band.

Tokens are sent in small batches (every FLUSH_SECONDS) rather than one message each, and the text so far is kept
in the cache so a page that connects mid-stream starts from where the stream is.
"""

import logging
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from redis.exceptions import RedisError

from agents.services import llm
from agents.team.kinds import IMAGE_MODES

from .dispatch import estimate_seconds, place_in_line
from .forms import PROPOSAL_KINDS
from .models import GenerationTask

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.05
SAVE_SECONDS = 2.0
PARTIAL_TTL = 24 * 3600


def partial_key(task_id) -> str:
    return f"task-partial-{task_id}"


def current_text(task) -> str:
    """The draft as far as it has been written: the live copy while streaming, else the saved one."""
    if task.status == task.Status.RUNNING:
        return cache.get(partial_key(task.pk), task.partial_content)
    return task.result_content or task.partial_content


def panel_context(task, oob: bool = False) -> dict:
    """What the task panel shows, for a page, an htmx swap, or a worker's push over the websocket."""
    position = place_in_line(task)
    return {
        "task": task,
        "text": current_text(task),
        "steps": list(task.steps.all()),
        "place_in_line": position,
        "estimate": estimate_seconds(position),
        # A request waiting for the built-in model to be built says so, instead of a place in line.
        "preparing": llm.builtin_preparing()
        if task.status == task.Status.QUEUED and task.mode not in IMAGE_MODES
        else None,
        "oob": oob,
        "rating": task.user_rating,
        "proposal_kinds": PROPOSAL_KINDS.items(),
    }


def render_panel(task) -> str:
    return render_to_string("generation/_task.html#panel", panel_context(task, oob=True))


def send(task, html: str, kind: str = "task.update"):
    """Best effort: the database holds the task's state, and a page that missed updates (Redis restarting)
    reloads it when its websocket reconnects, so a lost message never stops the generation."""
    try:
        async_to_sync(get_channel_layer().group_send)(task.group_name, {"type": kind, "html": html})
    except (RedisError, OSError):
        log.warning("Live update for task %s not sent", task.pk, exc_info=True)


class Live:
    """One running task's channel to the browser. `attempt` is the worker's claim: its saves of the draft so far
    only land while it still owns the task."""

    def __init__(self, task, attempt: int | None = None):
        self.task = task
        self.attempt = task.attempts if attempt is None else attempt
        self.buffer: list[str] = []
        self.text = ""
        self.last_flush = self.last_save = time.monotonic()
        self.lock = threading.Lock()

    def state(self):
        """Send the whole panel (status, steps, draft so far)."""
        send(self.task, render_panel(self.task))

    def start_draft(self):
        """A new draft (a rewrite) replaces what was streamed before."""
        with self.lock:
            self.buffer, self.text = [], ""
            cache.set(partial_key(self.task.pk), "", PARTIAL_TTL)
        self.state()

    def token(self, text: str):
        with self.lock:
            self.buffer.append(text)
            self.text += text
            if time.monotonic() - self.last_flush >= FLUSH_SECONDS:
                self._flush()

    def flush(self):
        with self.lock:
            self._flush()

    def _flush(self):
        if not self.buffer:
            return
        chunk, self.buffer = "".join(self.buffer), []
        cache.set(partial_key(self.task.pk), self.text, PARTIAL_TTL)
        html = f'<span id="draft-{self.task.pk}" hx-swap-oob="beforeend">{escape(chunk)}</span>'
        send(self.task, html, "task.tokens")
        now = time.monotonic()
        self.last_flush = now
        if now - self.last_save >= SAVE_SECONDS:
            # The database copy serves the JSON status API.
            GenerationTask.objects.filter(
                pk=self.task.pk, attempts=self.attempt, status=GenerationTask.Status.RUNNING
            ).update(partial_content=self.text, heartbeat_at=timezone.now())
            self.last_save = now
