"""Whether the built-in model's engine (llama-cpp-python) is installed yet.

`make run` starts the app while scripts/build-llama compiles the engine in the background (about five minutes on
a new machine), so the workspace is usable at once. Until the engine is there the app says so, with the time the
build expects to take, and holds AI requests; they start by themselves once it is ready (the dispatcher runs
every few seconds). The build writes VAR_DIR/llama-build.json while it works.
"""

import importlib
import importlib.util
import json
import threading
import time
from dataclasses import dataclass

from django.conf import settings

RECHECK_SECONDS = 5.0
_state = {"installed": False, "checked": 0.0}
_lock = threading.Lock()


@dataclass
class Preparing:
    state: str  # building, failed or missing
    minutes_left: int = 0
    log: str = ""

    @property
    def message(self) -> str:
        if self.state == "building":
            return (
                f"The built-in model is being prepared: about {self.minutes_left} minute"
                f"{'s' if self.minutes_left != 1 else ''}. You can write meanwhile; AI requests wait and start by "
                "themselves when it is ready."
            )
        if self.state == "failed":
            return (
                f"The built-in model could not be built (see {self.log}). Run `scripts/build-llama` to try again, or "
                "set OLLAMA_HOST or OPENAI_BASE_URL to use a model server."
            )
        return (
            "The built-in model is not installed: run `scripts/build-llama` (or `make run`), or set OLLAMA_HOST or "
            "OPENAI_BASE_URL to use a model server."
        )


def installed() -> bool:
    """The engine can be imported. Once it can, that is remembered; before, asked again every few seconds (the
    import system caches what a directory held, so the cache is cleared first)."""
    with _lock:
        if _state["installed"] or time.monotonic() - _state["checked"] < RECHECK_SECONDS:
            return _state["installed"]
        importlib.invalidate_caches()
        _state["installed"] = importlib.util.find_spec("llama_cpp") is not None
        _state["checked"] = time.monotonic()
        return _state["installed"]


def preparing() -> Preparing | None:
    """None when the engine is installed; else what its build says (building, with the minutes left; failed)."""
    if installed():
        return None
    try:
        status = json.loads((settings.VAR_DIR / "llama-build.json").read_text())
    except (OSError, ValueError):
        return Preparing("missing")
    if status.get("state") == "building":
        left = float(status.get("started", 0)) + float(status.get("expected_seconds", 0)) - time.time()
        return Preparing("building", minutes_left=max(1, round(left / 60)))
    return Preparing("failed", log=str(status.get("log", "")))
