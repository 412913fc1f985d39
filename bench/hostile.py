"""Hostile files and texts against the real stack while writers keep typing: what one account can cost everyone else.

    .venv/bin/python bench/hostile.py [--writers 20] [--attackers 3] [--before 30]

`manage.py serve` runs the app as `make run` does (two web processes, two RQ workers, maintenance). Twenty writers
autosave a growing chapter every 3 s, first alone (`--before` seconds), then while attackers, each with an account
of their own, send hostile files through the forms (manuscripts, character cards, lorebooks, portraits, backups)
and hostile texts through the JSON API, one after another, as fast as the app lets them. The files are made here
(tests/hostile.py and a few more): each class that once held a web process or a worker for seconds to hours.

Per file it records the answer (refused at once with 413 or 429, read, or refused with the reason after reading),
how long the web process took to answer the upload, how long the file waited for a worker and how long reading
took, and the peak memory of the reading process. For the writers: save p95 and errors before and during the
attack, and whether every writer's text is in the database at the end. Targets: no 5xx, no upload answered in
more than 1 s, every file refused or read within 10 s of reading and 512 MB, the writers' save p95 during the
attack within twice of before, nothing lost.
"""

import argparse
import asyncio
import io
import json
import os
import time
import zipfile
from collections import Counter

from common import percentile, serving, setup_django, write_result
from load import Stats, Writer, free_port, make_writers, remove_writers

FINISHED = {"done", "failed"}


def hostile_files(story_zip: bytes) -> list[dict]:
    """The files to send: (name, form, field, data), each a class of attack."""
    from tests import hostile
    from tests.image_servers import png, png_claiming

    def many_pictures_backup() -> bytes:
        bomb = io.BytesIO()
        from PIL import Image

        Image.new("L", (8000, 5000)).save(bomb, "PNG")
        doc = {"format": "storyassistant-story-backup", "version": 2, "story": {"title": "Bombs"}, "chapters": [],
               "pictures": [{"kind": "scene", "status": "accepted", "source": "uploaded", "file": f"images/{n}.png"}
                            for n in range(40)]}  # fmt: skip
        return hostile._zip({"backup.json": json.dumps(doc), **{f"images/{n}.png": bomb.getvalue() for n in range(40)}})

    card_bomb = hostile.apng_card(300, 6000)
    ztxt = b"chara\0\0" + __import__("zlib").compress(b"A" * (60 * 1024 * 1024))
    ztxt_card = png(10, 10)[:33] + _chunk(b"zTXt", ztxt) + png(10, 10)[33:]
    lore = {"entries": {str(n): {"key": ["k"], "content": "x" * 20_000, "comment": f"E{n}"} for n in range(600)}}
    return [
        {"name": "headings-with-spaces.md", "form": "manuscript", "data": hostile.markdown_heading_spaces(400, 3000)},
        {"name": "italic-spaces.docx", "form": "manuscript", "data": hostile.docx_italic_spaces(40_000)},
        {"name": "emphasis-newlines.epub", "form": "manuscript", "data": hostile.epub_emphasis_newlines(40_000)},
        {"name": "spine-1000-times.epub", "form": "manuscript", "data": hostile.epub_repeated_spine(1000, 2000)},
        {"name": "deep-emphasis.epub", "form": "manuscript", "data": hostile.epub_deep_emphasis(200, 400_000)},
        {"name": "expanding.docx", "form": "manuscript", "data": hostile.docx_expanding(95)},
        {"name": "zip-bomb.docx", "form": "manuscript", "data": _zip_bomb()},
        {"name": "1.2-million-words.txt", "form": "manuscript", "data": hostile.text_over_the_limit(1_200_000)},
        {"name": "too-large.txt", "form": "manuscript", "data": b"x" * (26 * 1024 * 1024)},
        {"name": "animated-300-frames.png", "form": "card", "data": card_bomb},
        {"name": "compressed-text-bomb.png", "form": "card", "data": ztxt_card},
        {"name": "pixel-bomb.png", "form": "portrait", "data": png_claiming(60000, 60000)},
        {"name": "lorebook-12mb.json", "form": "lorebook", "data": json.dumps(lore).encode()},
        {"name": "backup-json-900mb.zip", "form": "backup", "data": hostile.backup_json_bomb(900)},
        {"name": "account-100000-stories.zip", "form": "backup",
         "data": hostile.account_backup_repeating(story_zip, 100_000)},
        {"name": "backup-1600-megapixels.zip", "form": "backup", "data": many_pictures_backup()},
    ]  # fmt: skip


def _chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (300 * 1024 * 1024))
    return out.getvalue()


def hostile_texts() -> list[dict]:
    from tests import hostile

    return [
        {"name": "500k unclosed quotation marks", "content": hostile.curly_quotes(499_000)},
        {"name": "thousands of names a letter apart", "content": hostile.many_names(499_000)},
    ]


def form_url(form: str, spec: dict) -> tuple[str, str]:
    return {
        "manuscript": ("/import/", "manuscript"),
        "card": ("/characters/import-card/", "card"),
        "portrait": (f"/characters/{spec['character']}/portrait/", "portrait"),
        "lorebook": (f"/stories/{spec['story']}/world/import/", "lorebook"),
        "backup": ("/backups/restore/", "backup"),
    }[form]


async def attack(client, spec: dict, queue: asyncio.Queue, results: list):
    """Send the files one after another, each as soon as the app takes it; follow each to its end."""
    import httpx

    while not queue.empty():
        item = queue.get_nowait()
        if "content" in item:  # a text, through the API
            started = time.monotonic()
            response = await client.post(f"/api/stories/{spec['story']}/chapters",
                                         json={"title": item["name"], "content": item["content"]},
                                         headers={"Authorization": f"Bearer {spec['api_key']}"})  # fmt: skip
            results.append({"file": item["name"], "through": "api", "bytes": len(item["content"].encode()),
                            "http_status": response.status_code,
                            "web_ms": round((time.monotonic() - started) * 1000, 1), "outcome": "accepted"
                            if response.status_code == 201 else "refused"})  # fmt: skip
            continue
        url, field = form_url(item["form"], spec)
        row = {"file": item["name"], "through": item["form"], "bytes": len(item["data"])}
        fields = {"story": spec["story"]} if item["form"] == "card" else {}
        while True:
            started = time.monotonic()
            try:
                response = await client.post(url, files={field: (item["name"], item["data"])}, data=fields)
            except httpx.HTTPError as exc:  # the server answered and closed while the body was still being sent
                response = None
                row.update(http_status=0, outcome="refused at once", message=f"connection closed ({exc!r})"[:200])
            row["web_ms"] = round((time.monotonic() - started) * 1000, 1)
            if response is None or response.status_code != 429:
                break  # 429: this account's previous file is still being read
            await asyncio.sleep(float(response.headers.get("Retry-After", "2")) / 5)
        if response is not None:
            row["http_status"] = response.status_code
        if response is not None and response.status_code == 302 and response.headers["location"].startswith("/up"):
            row["upload"] = response.headers["location"].split("/")[2]
            while True:  # the page the writer watches, as htmx polls it
                page = await client.get(response.headers["location"], headers={"HX-Request": "true"})
                if "HX-Redirect" in page.headers or 'data-upload-status="failed"' in page.text:
                    break
                await asyncio.sleep(0.5)
        elif response is not None:
            row.update(outcome="refused at once", message=response.text[:200])
        results.append(row)


async def writers_typing(people, seconds: float):
    for writer in people:
        writer.deadline = time.monotonic() + seconds
    await asyncio.gather(*(writer.live() for writer in people))


async def drive(args, writers, attackers, base, files):
    import httpx

    limits = httpx.Limits(max_connections=4, max_keepalive_connections=2)
    before, during = Stats(), Stats()
    people = []
    for spec in writers:
        writer = Writer(spec, base, before, time.monotonic(), False, None)
        writer.client = httpx.AsyncClient(base_url=base, cookies={"sessionid": spec["session"]}, limits=limits,
                                          timeout=httpx.Timeout(60.0))  # fmt: skip
        await writer.client.get("/")
        writer.client.headers["X-CSRFToken"] = writer.client.cookies.get("csrftoken") or ""
        people.append(writer)
    await writers_typing(people, args.before)
    for writer in people:
        writer.stats = during
    clients = []
    for spec in attackers:
        client = httpx.AsyncClient(base_url=base, cookies={"sessionid": spec["session"]}, timeout=httpx.Timeout(120.0))
        await client.get("/")
        client.headers["X-CSRFToken"] = client.cookies.get("csrftoken") or ""
        clients.append(client)
    queue = asyncio.Queue()
    for item in files:
        queue.put_nowait(item)
    results = []
    started = time.monotonic()
    attack_done = asyncio.gather(*(attack(c, s, queue, results) for c, s in zip(clients, attackers, strict=True)))
    typing = asyncio.ensure_future(writers_typing(people, 10_000))
    await attack_done
    attack_seconds = time.monotonic() - started
    for writer in people:  # a few more saves after the last file, then stop
        writer.deadline = time.monotonic() + 6
    await typing
    for writer in people:
        await writer.finish(30)
    for client in clients:
        await client.aclose()
    return people, before, during, results, attack_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--attackers", type=int, default=3)
    parser.add_argument("--before", type=float, default=30, help="seconds of typing before the attack")
    args = parser.parse_args()
    setup_django()
    import logging

    from django.conf import settings
    from django.core.management import call_command

    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    from api.models import ApiToken
    from characters.models import Character
    from core.models import Upload, User
    from interop import backup
    from stories.models import Chapter, Story
    from storyassistant.embedded import database_url

    prefix = f"hostile{int(time.time())}"
    writers = make_writers(args.writers, prefix)
    attackers = make_writers(args.attackers, prefix + "-x")
    for spec in attackers:
        spec["character"] = Character.objects.filter(owner_id=spec["user"]).values_list("pk", flat=True).first()
        _, spec["api_key"] = ApiToken.issue(User.objects.get(pk=spec["user"]), "hostile")
    out = io.BytesIO()
    backup.write(Story.objects.get(pk=attackers[0]["story"]), out)
    files = hostile_files(out.getvalue())
    files[1:1] = hostile_texts()  # the texts go early, so their checks run while files are read

    from django.db import connection

    connection.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]), "REDIS_URL": settings.REDIS_URL,
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    with serving("hostile", port, env) as (_serve, log):
        people, before, during, results, attack_seconds = asyncio.run(drive(args, writers, attackers, base, files))

    for row in results:  # what the worker recorded for each upload
        if "upload" in row:
            upload = Upload.objects.get(pk=row["upload"])
            waited = (upload.started_at - upload.created_at).total_seconds() if upload.started_at else None
            row.update({
                "outcome": {"done": "read", "failed": "refused after reading"}.get(upload.status, upload.status),
                "message": upload.message[:240], "waited_for_a_worker_s": round(waited, 2) if waited else None,
                "reading_s": round(upload.seconds, 2) if upload.seconds is not None else None,
                "peak_memory_mb": round(upload.peak_memory / 1024 / 1024, 1) if upload.peak_memory else None,
            })  # fmt: skip
    lost = [w.spec["chapter"] for w in people
            if Chapter.objects.values_list("content", flat=True).get(pk=w.spec["chapter"]) != w.text]  # fmt: skip
    connection.close()
    remove_writers(prefix)
    remove_writers(prefix + "-x")

    def side(stats: Stats) -> dict:
        saves = stats.latency.get("save", [])
        errors = Counter(str(s) for _, _, s in stats.errors)
        return {"saves": len(saves), "save_p50_ms": round(percentile(saves, 50), 1) if saves else None,
                "save_p95_ms": round(percentile(saves, 95), 1) if saves else None, "errors": dict(errors)}  # fmt: skip

    writers_before, writers_during = side(before), side(during)
    server_errors = [r for r in results if r["http_status"] >= 500] + [
        s for stats in (before, during) for _, _, s in stats.errors if not isinstance(s, int) or s >= 500
    ]
    read_rows = [r for r in results if r.get("reading_s") is not None]
    result = {
        "writers": args.writers,
        "attackers": args.attackers,
        "attack_seconds": round(attack_seconds, 1),
        "limits": {"memory_mb": settings.UPLOAD_MEMORY_MB, "cpu_seconds": settings.UPLOAD_CPU_SECONDS},
        "files": results,
        "writers_before": writers_before,
        "writers_during": writers_during,
        "texts_lost": len(lost),
        "targets": {
            "no_5xx": not server_errors,
            "no_upload_answered_in_more_than_1s": all(r["web_ms"] <= 1000 for r in results),
            "every_file_refused_or_read_within_10s": all(r["reading_s"] <= 10 for r in read_rows),
            "every_reading_within_512mb": all((r.get("peak_memory_mb") or 0) <= 512 for r in read_rows),
            "save_p95_during_within_2x_before": writers_during["save_p95_ms"] is not None
            and writers_during["save_p95_ms"] <= 2 * writers_before["save_p95_ms"],
            "nothing_lost": not lost,
        },
    }
    path = write_result("hostile", result)
    for row in results:
        print(f"{row['file'][:34]:34} {row['through']:10} {row['bytes'] / 1024:9.0f} KB  HTTP {row['http_status']}"
              f"  web {row['web_ms']:6.0f} ms  {row.get('outcome', ''):22}  wait {row.get('waited_for_a_worker_s')}"
              f"  read {row.get('reading_s')} s  {row.get('peak_memory_mb')} MB")  # fmt: skip
    print(json.dumps({k: v for k, v in result.items() if k != "files"}, indent=2))
    print(f"written to {path}; the app's output is in {log.name}")


if __name__ == "__main__":
    main()
