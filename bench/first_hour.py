"""A newcomer's first hour on the default set-up: the built-in model, two RQ workers, the demo story.

    .venv/bin/python bench/first_hour.py [--drafts 20] [--workers 2]

Starts RQ workers as real processes (as `make run` does: RQ_WORKERS=2, so the built-in model gets the cores divided
between them) against the app's database and Redis, gives a new account the demo story, then:
  (a) asks for "Write the next chapter" --drafts times, one after the other as one writer would (each waits for
      the last), and times each from the request to the proposal; targets: p50 <= 45 s, p95 <= 90 s;
  (b) counts, in each draft, how often its most repeated sentence (4 words or more) occurs; target: no sentence
      more than twice in at least 90 % of drafts;
  (c) checks the continuity of a 3,000-word chapter (the demo's chapters joined); target: <= 5 s.
The first request (the workers loading the models) is reported apart. Data it creates is removed at the end.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter

from common import percentile, setup_django, write_result
from pipeline import start, stop, wait_all


def most_repeated(text: str) -> int:
    from agents.checks.text import sentences

    counts = Counter(s.lower() for _, s in sentences(text) if len(s.split()) >= 4)
    return max(counts.values(), default=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drafts", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    from core.models import User
    from generation.dispatch import start_generation
    from generation.models import GenerationTask
    from storyassistant.embedded import database_url
    from storyassistant.management.demo_story import create_demo_story

    env = {
        **os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]), "REDIS_URL": settings.REDIS_URL,
        "LLM_PROVIDER": "embedded", "RQ_WORKERS": str(args.workers), "LLM_STORY_MODELS": "embedded",
    }  # fmt: skip
    for name in ("EMBEDDED_LLM_THREADS", "OLLAMA_HOST", "OPENAI_BASE_URL", "LLM_MODEL_PROFILES"):
        env.pop(name, None)  # the default set-up: nothing configured
    logs = tempfile.mkdtemp(prefix="bench-first-hour-")
    processes = [
        start([sys.executable, "manage.py", "rqworker", *settings.RQ_QUEUE_NAMES], env, logs)
        for _ in range(args.workers)
    ]
    email = f"first-hour-{int(time.time())}@bench.invalid"
    user = User.objects.create_user(email=email, password=None)
    figures = {"workers": args.workers, "drafts_asked": args.drafts}
    try:
        story = create_demo_story(user)
        last = story.chapters.order_by("-order").first()

        def ask(mode, chapter, **request):
            started = time.monotonic()
            task = start_generation(user, story, mode, {"base_version": chapter.version, **request}, chapter)
            if not wait_all([task.pk], 900):
                raise SystemExit(f"task {task.pk} did not finish; worker logs in {logs}")
            task.refresh_from_db()
            return task, time.monotonic() - started

        first, first_seconds = ask(GenerationTask.Mode.NEXT_CHAPTER, last)
        figures["first_request_seconds"] = round(first_seconds, 1)  # loading the model and the embeddings
        rows = []
        for _ in range(args.drafts):
            task, seconds = ask(GenerationTask.Mode.NEXT_CHAPTER, last)
            text = task.result_content or ""
            rows.append({
                "status": task.status, "seconds": round(seconds, 1), "words": len(text.split()),
                "most_repeated_sentence": most_repeated(text), "verdict": (task.quality_report or {}).get("verdict"),
                "steps_ms": {s.key: s.duration_ms for s in task.steps.all()},
            })  # fmt: skip
            print(f"draft {len(rows)}: {rows[-1]['seconds']} s, {rows[-1]['words']} words, "
                  f"most repeated sentence x{rows[-1]['most_repeated_sentence']}, {task.status}")  # fmt: skip
        plan = first.steps.get(key="plan").reason

        # (c) a 3,000-word chapter of the writer's own, checked.
        words = " ".join(c.content for c in story.chapters.order_by("order")).split()
        while len(words) < 3000:
            words += words
        long = story.chapters.model(story=story, order=last.order + 1, title="Long")
        long.content = " ".join(words[:3000])
        long.save()
        check, check_seconds = ask(GenerationTask.Mode.CHECK, long)
    finally:
        stop(processes)
        User.objects.filter(email=email).delete()

    seconds = [r["seconds"] for r in rows]
    clean = sum(r["most_repeated_sentence"] <= 2 for r in rows)
    figures.update({
        "plan": plan,
        "drafts": {
            "succeeded": sum(r["status"] == "succeeded" for r in rows),
            "seconds_p50": round(percentile(seconds, 50), 1), "seconds_p95": round(percentile(seconds, 95), 1),
            "seconds_max": max(seconds), "words_median": statistics.median(r["words"] for r in rows),
            "no_sentence_more_than_twice": f"{clean} of {len(rows)}",
            "rows": rows,
        },
        "continuity_check_3000_words": {"status": check.status, "seconds": round(check_seconds, 1),
                                        "steps_ms": {s.key: s.duration_ms for s in check.steps.all()}},
    })  # fmt: skip
    drafts = figures["drafts"]
    figures["targets"] = {
        "draft_p50_at_most_45_s": drafts["seconds_p50"] <= 45,
        "draft_p95_at_most_90_s": drafts["seconds_p95"] <= 90,
        "no_sentence_more_than_twice_in_90_percent": clean >= 0.9 * len(rows),
        "check_3000_words_at_most_5_s": check_seconds <= 5,
    }
    print(f"first request (models loading): {figures['first_request_seconds']} s")
    print(f"(a) {len(rows)} drafts: p50 {drafts['seconds_p50']} s, p95 {drafts['seconds_p95']} s, "
          f"median {drafts['words_median']} words, {drafts['succeeded']} succeeded")  # fmt: skip
    print(f"(b) no sentence more than twice: {drafts['no_sentence_more_than_twice']}")
    print(f"(c) continuity check of 3,000 words: {round(check_seconds, 1)} s ({check.status})")
    print(f"targets: {figures['targets']}")
    print(f"written to {write_result('first_hour', figures)}")


if __name__ == "__main__":
    main()
