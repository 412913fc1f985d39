"""Pictures: what the app adds to an image service's own time, and what cleaning an image costs.

    .venv/bin/python bench/pictures.py [--writers 30] [--workers 2] [--service-seconds 2]

(a) Cleaning (type sniffing, limits, re-encoding without metadata, WebP thumbnail) of images of growing size, and
    refusing a decompression bomb; in this process, the code every uploaded or made image goes through.
(b) `--writers` writers click "Draw portrait" at once, over HTTP on daphne, with `--workers` RQ workers and a
    local server speaking ComfyUI's HTTP + websocket protocol that takes `--service-seconds` per picture. Measures
    each task's time beyond the service's (target: p95 under 1 s), click-to-picture times, and that every picture
    arrives (none failed, none lost). Data it creates is removed at the end.
"""

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

import requests
from common import percentile, setup_django, write_result
from pipeline import free_port, listening, make_writers, start, stop, wait_all, wait_for


def cleaning_costs() -> list[dict]:
    from PIL import Image

    from pictures.images import PictureRejected, clean
    from tests.image_servers import png_claiming

    rows = []
    for width, height, kind in [(832, 1216, "PNG"), (1024, 1024, "PNG"), (2048, 2048, "PNG"), (4096, 4096, "JPEG")]:
        out = io.BytesIO()
        Image.effect_noise((width, height), 40).convert("RGB").save(out, kind)
        data = out.getvalue()
        times = []
        for _ in range(3):
            started = time.perf_counter()
            clean(data)
            times.append((time.perf_counter() - started) * 1000)
        rows.append({"image": f"{width}x{height} {kind}", "bytes": len(data), "ms": round(statistics.median(times))})
    started = time.perf_counter()
    with contextlib.suppress(PictureRejected):
        clean(png_claiming(60000, 60000))
    rows.append({"image": "60000x60000 PNG bomb, refused", "ms": round((time.perf_counter() - started) * 1000, 2)})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--service-seconds", type=float, default=2.0)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.test import Client

    from core.models import User
    from generation.models import GenerationTask
    from storyassistant.embedded import database_url
    from tests.httpserver import LocalServer
    from tests.image_servers import serve_comfyui

    figures = {"cleaning": cleaning_costs()}
    for row in figures["cleaning"]:
        print(f"clean {row['image']}: {row['ms']} ms")

    comfyui = LocalServer()
    serve_comfyui(comfyui)
    # The local ComfyUI sends four progress events per picture, each after this pause.
    comfyui.state["step_delay"] = args.service_seconds / 4
    prefix = f"benchpictures{int(time.time())}"
    media = tempfile.mkdtemp(prefix="bench-media-")
    env = {
        **os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]), "REDIS_URL": settings.REDIS_URL,
        "COMFYUI_URL": comfyui.url, "IMAGE_RETRIES": "0", "MEDIA_ROOT": media,
    }  # fmt: skip
    logs = tempfile.mkdtemp(prefix="bench-pictures-")
    port = free_port()
    processes = [start([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                        "storyassistant.asgi:application"], env, logs)]  # fmt: skip
    processes += [
        start([sys.executable, "manage.py", "rqworker", *settings.RQ_QUEUE_NAMES], env, logs)
        for _ in range(args.workers)
    ]
    try:
        wait_for(lambda: listening(port), 60, "daphne")
        writers = make_writers(args.writers, prefix)
        sessions = []
        for user, story, _ in writers:
            client = Client()
            client.force_login(user)
            session = requests.Session()
            session.cookies.set("sessionid", client.cookies["sessionid"].value)
            session.get(f"http://127.0.0.1:{port}/stories/{story.pk}/cast/").raise_for_status()  # the CSRF cookie
            sessions.append((session, story, story.characters.get()))
        clicked = {}
        for session, story, character in sessions:
            url = f"http://127.0.0.1:{port}/stories/{story.pk}/cast/{character.pk}/portrait/"
            clicked[story.pk] = time.time()
            answer = session.post(url, headers={"X-CSRFToken": session.cookies["csrftoken"]}, allow_redirects=False)
            assert answer.status_code == 302, answer.text[:300]
        tasks = GenerationTask.objects.filter(story__pk__in=list(clicked), mode="portrait")
        task_ids = list(tasks.values_list("pk", flat=True))
        finished = wait_all(task_ids, 60 + args.writers * args.service_seconds * 2)
        tasks = list(GenerationTask.objects.filter(pk__in=task_ids))
        done = [t for t in tasks if t.status == "succeeded" and t.picture_id]
        overhead = [(t.finished_at - t.started_at).total_seconds() - args.service_seconds for t in done]
        to_picture = [t.finished_at.timestamp() - clicked[t.story_id] for t in done]
        figures["portraits"] = {
            "writers": args.writers, "workers": args.workers, "service_seconds": args.service_seconds,
            "all_finished": finished, "succeeded": len(done), "failed": sum(t.status == "failed" for t in tasks),
            "overhead_p50_s": round(percentile(overhead, 50), 3), "overhead_p95_s": round(percentile(overhead, 95), 3),
            "click_to_picture_p50_s": round(percentile(to_picture, 50), 1),
            "click_to_picture_p95_s": round(percentile(to_picture, 95), 1),
            "ideal_last_s": round(args.writers / args.workers * args.service_seconds, 1),
        }  # fmt: skip
        print(figures["portraits"])
    finally:
        stop(processes)
        comfyui.close()
        User.objects.filter(email__startswith=prefix).delete()
    print(f"written to {write_result('pictures', figures)}")


if __name__ == "__main__":
    main()
