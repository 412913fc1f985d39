"""Where the hot paths spend their server time: the autosave, the editor page, the dashboard and the floor (a view
that does nothing), each run in-process through the full middleware stack for a seeded writer on the seeded site
(`manage.py seed_site`), under cProfile.

    .venv/bin/python bench/hot_paths.py [--requests 200] [--top 25]

Prints, per path, the mean server CPU per request (measured without the profiler) and the functions with the most
cumulative and the most own time, and writes bench/results/hot_paths.json with the figures and the top entries.
"""

import argparse
import cProfile
import io
import pstats
import time

from common import setup_django, write_result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from core.models import User
    from stories.models import Chapter

    settings.ALLOWED_HOSTS = ["*"]
    # One writer saving hundreds of times a minute: the limit is still counted (its round trip is part of the
    # path), but must not answer 429 instead of saving.
    settings.SAVES_PER_MINUTE = 10**6
    call_command("seed_site")
    user = User.objects.get(email="seed-5@seed.invalid")
    chapter = Chapter.objects.filter(story__owner=user).order_by("story_id", "order").first()
    client = Client()
    client.force_login(user)
    editor = reverse("chapter_edit", args=[chapter.story_id, chapter.pk])
    save = reverse("chapter_save", args=[chapter.story_id, chapter.pk])
    text = chapter.content

    def autosave(n):
        version = Chapter.objects.filter(pk=chapter.pk).values_list("version", flat=True).get()
        return client.post(save, {"title": chapter.title, "content": f"{text} Word{n}.", "base_version": version},
                           headers={"HX-Request": "true"})  # fmt: skip

    paths = {
        "floor": lambda n: client.get("/healthz/floor"),
        "save": autosave,
        "page:editor": lambda n: client.get(editor),
        "page:dashboard": lambda n: client.get("/"),
    }
    settings.REQUEST_TIMING = True
    results = {}
    for name, request in paths.items():
        for n in range(5):  # warm: templates compiled, connections open
            assert request(n).status_code == 200, name
        cpu = time.process_time()
        for n in range(args.requests):
            assert request(n).status_code == 200, name
        per_request = (time.process_time() - cpu) * 1000 / args.requests
        profiler = cProfile.Profile()
        profiler.enable()
        for n in range(args.requests):
            request(n)
        profiler.disable()
        results[name] = {"cpu_ms_per_request": round(per_request, 2)}
        print(f"\n=== {name}: {per_request:.2f} ms CPU per request (in-process, without the profiler)")
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
            rows = [line for line in out.getvalue().splitlines() if line.strip()][-args.top :]
            results[name][f"profile_by_{order}"] = rows
            print(f"--- by {order}\n" + "\n".join(rows))
    path = write_result("hot_paths", {"requests_per_path": args.requests, "paths": results})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
