"""Shared set-up for benchmark scripts: Django (with the embedded services), realistic text, result files."""

import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyassistant.settings")
    import django

    django.setup()


NAMES = ["Mara", "Tomas", "Ilse", "Quillon", "Vessa", "Ennet", "Brell", "Corrie", "Ottilie", "Ferren"]
PLACES = ["Greyhaven", "Saltmere", "the causeway", "the lighthouse", "the market square", "the chapel ruins"]
ACTIONS = [
    "walked along", "argued about", "remembered", "sketched a map of", "hid a letter near", "searched",
    "sang about", "lied about", "dreamed of", "bargained over the price of a boat at",
]  # fmt: skip
DETAILS = [
    "while the tide came in", "before the bells rang", "in the grey light of dawn", "as the storm broke",
    "with a lantern in one hand", "though nobody believed her", "for the third time that week",
    "and regretted it at once", "as gulls wheeled overhead", "while the fishing boats came home",
]  # fmt: skip


def sentences(count: int, seed: int = 7) -> list[str]:
    """Distinct story-like sentences."""
    rng = random.Random(seed)
    result = set()
    while len(result) < count:
        result.add(
            f"{rng.choice(NAMES)} {rng.choice(ACTIONS)} {rng.choice(PLACES)} {rng.choice(DETAILS)}"
            f"{rng.choice(['.', '.', '!', ', and said nothing.'])} ({rng.randint(1, 10**6)})"
        )
    return sorted(result)


def paragraphs(count: int, words: int = 120, seed: int = 11) -> list[str]:
    pool = sentences(count * 8, seed)
    result, i = [], 0
    for _ in range(count):
        para = []
        while sum(len(s.split()) for s in para) < words:
            para.append(pool[i % len(pool)])
            i += 1
        result.append(" ".join(para))
    return result


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        "benchmark": name,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


@contextmanager
def serving(name: str, port: int, env: dict, options=()):
    """`manage.py serve` (as `make run` starts the app) on 127.0.0.1:`port`, healthy within 180 s; stopped with
    Ctrl+C on leaving. Yields the process and its log file (the app's output)."""
    import httpx

    log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), *options]
    serve = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit(f"the app did not become healthy; see {log.name}")
            time.sleep(0.5)
        yield serve, log
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
