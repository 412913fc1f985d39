"""Reading a file a writer sent, in a child process with hard limits.

A manuscript, a card, a lorebook or a backup is hostile until it has been read: a parser's worst case (a
decompression bomb, a pathological document, a bug in a C library) must cost one bounded child process, never a
web process or a worker. `run()` starts a fresh Python (no Django, no database, no secrets in its environment)
that limits its own address space, CPU time and file sizes before it imports the reader, reads the file from
standard input, and writes the reader's answer as JSON (and any files it makes) into a folder of its own. The
parent waits a bounded wall-clock time and kills it past that.

This module is imported by both sides, so it imports nothing of Django.
"""

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = "result.json"


_peaks: ContextVar[list | None] = ContextVar("sandbox_peaks", default=None)


@contextmanager
def measured():
    """Collect the peak memory of every child run inside the block: yields a list the runs append to."""
    peaks = []
    token = _peaks.set(peaks)
    try:
        yield peaks
    finally:
        _peaks.reset(token)


class Unreadable(ValueError):
    """The file cannot be used; the message says why, for the writer. Readers raise it (or a subclass) in the
    child; `run()` raises it in the parent with the same message."""


class OverLimit(Unreadable):
    """The reading needed more memory or time than the limits allow."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int  # address space of the child (RLIMIT_AS)
    cpu_seconds: int  # processor time of the child, its start included (RLIMIT_CPU)
    output_bytes: int  # largest file the child may write (RLIMIT_FSIZE): its answer and each file it makes

    def describe_memory(self) -> str:
        return f"{self.memory_bytes / 1024 / 1024:.0f} MB of memory"


@dataclass
class Result:
    value: object  # what the reader returned (JSON)
    folder: Path  # where the files it made are, named as its answer names them
    seconds: float  # wall-clock time of the child
    peak_memory: int = 0  # the child's largest resident size, in bytes (from the child itself)

    def file(self, name: str) -> Path:
        """A file the reader made, by the name its answer gave (never outside the folder)."""
        path = (self.folder / name).resolve()
        if self.folder.resolve() not in path.parents or not path.is_file():
            raise Unreadable("The file could not be read: its reader named a file it did not make.")
        return path


@contextmanager
def run(reader: str, source: Path, limits: Limits, **options):
    """Run `reader` ("package.module:function", called as function(data: bytes, folder: Path, **options)) on the
    bytes of `source` in a limited child; yield its Result while the files it made exist. Raises Unreadable with
    the reader's message, or OverLimit when a limit stopped it."""
    with tempfile.TemporaryDirectory(prefix="storyassistant-read-") as work:
        folder = Path(work) / "out"
        folder.mkdir()
        command = [sys.executable, "-m", "core.sandbox", reader, json.dumps(options), str(folder),
                   str(limits.memory_bytes), str(limits.cpu_seconds), str(limits.output_bytes)]  # fmt: skip
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        started = time.monotonic()
        with open(source, "rb") as stdin:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            wall = wall_seconds(limits)
            try:
                _, errors = process.communicate(timeout=wall)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise OverLimit(f"It took more than {wall} seconds.") from None
        seconds = time.monotonic() - started
        peak = _peak_of(folder / RESULT)  # noted for measured() before a refusal is raised
        yield Result(_answer(process.returncode, folder / RESULT, limits, errors), folder, seconds, peak)


def wall_seconds(limits: Limits) -> int:
    """The child cannot use more CPU time than its limit, but it could wait on something: the wall clock is
    bounded too, with room for a busy machine."""
    return 2 * limits.cpu_seconds + 5


def _peak_of(path: Path) -> int:
    """The peak memory the child reported with its answer (refusals included), noted for `measured()`."""
    try:
        peak = int(json.loads(path.read_bytes()).get("peak_memory") or 0)
    except (OSError, ValueError, AttributeError):
        peak = 0
    if _peaks.get() is not None and peak:
        _peaks.get().append(peak)
    return peak


def _answer(returncode: int, path: Path, limits: Limits, errors: bytes):
    killed_by = -returncode if returncode < 0 else None
    if killed_by in (signal.SIGXCPU, signal.SIGKILL):
        raise OverLimit(f"It needed more than {limits.cpu_seconds} seconds of processing.")
    if killed_by == signal.SIGXFSZ:
        raise OverLimit("What it holds is larger than the limits allow.")
    try:
        answer = json.loads(path.read_bytes()) if path.is_file() else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        # The child died without answering (a crash in a parser's C code, say): the file is the likely cause.
        detail = errors.decode("utf-8", "replace").strip().splitlines()[-1:] if errors else []
        raise Unreadable("The file could not be read: its reader stopped." + (f" ({detail[0]})" if detail else ""))
    if "memory" in answer:
        raise OverLimit(f"It needed more than {limits.describe_memory()}.")
    if "refused" in answer:
        raise Unreadable(str(answer["refused"]))
    return answer.get("value")


# --- the child -------------------------------------------------------------------------------------------------


def _limit(memory_bytes: int, cpu_seconds: int, output_bytes: int):
    # Last in line for the processor: a page a writer waits for comes before reading someone's file.
    os.nice(19 - os.nice(0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output_bytes, output_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _peak_memory() -> int:
    """This process's high-water resident size (VmHWM: of this program, not of the parent it was forked from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _write(folder: Path, answer: dict):
    (folder / RESULT).write_text(json.dumps({**answer, "peak_memory": _peak_memory()}, ensure_ascii=False))


def main(argv: list[str]):
    reader, options, folder, memory, cpu, output = argv
    folder = Path(folder)
    _limit(int(memory), int(cpu), int(output))
    try:
        module, function = reader.split(":")
        read = getattr(import_module(module), function)
        answer = {"value": read(sys.stdin.buffer.read(), folder, **json.loads(options))}
    except Unreadable as exc:
        answer = {"refused": str(exc)}
    except MemoryError:
        answer = {"memory": True}
    except RecursionError:
        answer = {"refused": "The file could not be read: it is nested far deeper than any real one."}
    # Written once the reader's frames (and what they held) are gone: the answer needs a little memory too.
    _write(folder, answer)


if __name__ == "__main__":
    # Run as the imported module, so the readers' Unreadable is the one caught here (not __main__'s copy).
    from core.sandbox import main as imported_main

    imported_main(sys.argv[1:])
