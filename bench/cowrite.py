"""Writing together under load, through the real stack: `manage.py serve` (daphne processes, RQ workers), the
chapter websocket and the editor's autosave, as `make run` runs them.

    .venv/bin/python bench/cowrite.py [--pairs 50] [--solo 20] [--seconds 60] [--cps 4] [--no-kill]

--pairs stories are shared by two writers each, both typing into the same chapter at once over the chapter's
websocket (a pycrdt client speaking y-websocket as the browser does), one character per update at --cps
characters a second with a little jitter, the owner at the end of the chapter and the co-author after its first
sentence; --solo writers on stories of their own autosave every 3 s as the editor does. Halfway through, one web
process is killed (SIGKILL); its writers reconnect (as y-websocket's provider does) and keep typing meanwhile.

Each writer types numbered tokens ("p3a17 "); when a token's last character is typed, its partner's client waits
for it: propagation is the time from typing it to the partner's document holding it (one clock: both clients are
in this process). Reported: propagation p50/p95/p99 (all, and steady: leaving out tokens typed from the kill until
every writer was back), web processes' CPU per update, and after the typing stops a convergence check: for every
chapter, both clients' texts, the server's document and the stored chapter (once settled) are identical, and
every token each writer typed is in it once (lost keystrokes). Solo writers: save p95 and texts lost.
"""

import argparse
import asyncio
import os
import random
import signal
import time

from common import ROOT, percentile, sentences, serving, setup_django, write_result
from load import app_processes, free_port, signed_in


def make_pairs(count: int, solo: int, prefix: str):
    from core.models import User
    from stories.models import Chapter, Role, Story, StoryMembership

    pool = sentences(count + solo, seed=5)
    pairs, solos = [], []
    for i in range(count):
        owner = User.objects.create_user(email=f"{prefix}-o{i}@bench.invalid", password=None, display_name=f"O{i}")
        partner = User.objects.create_user(email=f"{prefix}-c{i}@bench.invalid", password=None, display_name=f"C{i}")
        story = Story.objects.create(owner=owner, title=f"Shared {i}")
        StoryMembership.objects.create(story=story, user=partner, role=Role.CO_AUTHOR)
        chapter = Chapter.objects.create(story=story, title="One", order=1, content=pool[i])
        pairs.append({"story": story.pk, "chapter": chapter.pk, "sessions": [signed_in(owner), signed_in(partner)]})
    for i in range(solo):
        user = User.objects.create_user(email=f"{prefix}-s{i}@bench.invalid", password=None)
        story = Story.objects.create(owner=user, title=f"Solo {i}")
        chapter = Chapter.objects.create(story=story, title="One", order=1, content=pool[count + i])
        solos.append({"story": story.pk, "chapter": chapter.pk, "session": signed_in(user), "text": pool[count + i]})
    return pairs, solos


class Typist:
    """One writer of a pair: types tokens into their client and waits for the partner's."""

    def __init__(self, client, name: str, where: str):
        self.client, self.name, self.where = client, name, where
        self.typed: list[str] = []  # tokens fully typed
        self.sent_at: dict[str, float] = {}
        self.partner = None
        self.seen = 0  # how many of the partner's tokens this client holds
        self.latencies: list[tuple[float, float]] = []  # (typed at, propagation)
        self.updates = 0

    def position(self, text: str, partial: str) -> int:
        """Where this writer's caret is: at the end, or (the co-author) after their own last word, first after
        the chapter's first sentence; the partner's typing never lands inside it."""
        if self.where == "end":
            return len(text)
        last = self.typed[-1] if self.typed else None
        if last is not None and last in text:
            return text.rfind(last) + len(last) + len(partial)
        first = text.find(". ")
        return (first + 2 if first != -1 else 0) + len(partial)

    def check_partner(self, text: str):
        partner = self.partner
        now = time.monotonic()
        while self.seen < len(partner.typed) and partner.typed[self.seen] in text:
            token = partner.typed[self.seen]
            self.latencies.append((partner.sent_at[token], now - partner.sent_at[token]))
            self.seen += 1

    async def type(self, seconds: float, cps: float, rng: random.Random):
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            token = f"{self.name}k{n} "
            for i, char in enumerate(token):
                self.client.insert(self.position(str(self.client), token[:i]), char)
                self.updates += 1
                if i == len(token) - 1:  # typed: from now the partner may hold it
                    self.typed.append(token)
                    self.sent_at[token] = time.monotonic()
                await asyncio.sleep(rng.uniform(0.6, 1.4) / cps)
            n += 1


async def keep_connected(client, stop: asyncio.Event, outages: list):
    """Reconnect when the socket drops, and resync every 5 s, as the browser's y-websocket provider does."""
    next_resync = time.monotonic() + 5
    while not stop.is_set():
        if time.monotonic() > next_resync:
            await client.resync()
            next_resync = time.monotonic() + 5
        if client.socket is None:
            lost = time.monotonic()
            while not stop.is_set():
                try:
                    await client.connect(timeout=15)
                    outages.append(time.monotonic() - lost)
                    break
                except Exception:  # noqa: BLE001 - the server is restarting its process: try again
                    await asyncio.sleep(0.5)
        await asyncio.sleep(0.1)


async def solo_writer(base, writer, seconds, saves):
    import re

    import httpx

    cookies = {"sessionid": writer["session"]}
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=60) as http:
        page = await http.get(f"/stories/{writer['story']}/chapters/{writer['chapter']}/")
        version = int(re.search(r'name="base_version" value="(\d+)"', page.text).group(1))
        http.headers["X-CSRFToken"] = http.cookies["csrftoken"]
        extra = sentences(200, seed=writer["chapter"])
        end, i = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            writer["text"] += " " + extra[i % len(extra)]
            started = time.monotonic()
            response = await http.post(
                f"/stories/{writer['story']}/chapters/{writer['chapter']}/save/",
                data={"title": "One", "content": writer["text"], "base_version": version},
                headers={"HX-Request": "true"},
            )
            saves.append((response.status_code, time.monotonic() - started))
            if response.status_code == 200:
                version = int(re.search(r'name="base_version" value="(\d+)"', response.text).group(1))
            i += 1
            await asyncio.sleep(3)


class WebCpu:
    """CPU seconds of the daphne processes, sampled twice a second by pid, so a killed process's share up to its
    end is kept and its successor's is added."""

    def __init__(self, serve_pid):
        self.serve_pid, self.first, self.last = serve_pid, {}, {}

    def sample(self):
        for process in app_processes(self.serve_pid):
            try:
                if "daphne" in " ".join(process.cmdline()):
                    times = process.cpu_times()
                    self.first.setdefault(process.pid, times.user + times.system)
                    self.last[process.pid] = times.user + times.system
            except Exception:  # noqa: BLE001, S112 - a process that just died
                continue

    async def run(self, stop):
        while not stop.is_set():
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(0.5)

    def used(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


async def drive(args, pairs, solos, host, serve_pid):
    from tests.yclient import YClient

    rng = random.Random(1)
    stop, outages = asyncio.Event(), []
    typists = []
    for i, pair in enumerate(pairs):
        a = Typist(YClient(host, pair["story"], pair["chapter"], pair["sessions"][0]), f"p{i}a", "end")
        b = Typist(YClient(host, pair["story"], pair["chapter"], pair["sessions"][1]), f"p{i}b", "start")
        a.partner, b.partner = b, a
        for typist in (a, b):
            typist.client.on_update = typist.check_partner
        typists += [a, b]
    for typist in typists:  # arrive over a couple of seconds
        await typist.client.connect(timeout=30)
        await asyncio.sleep(2 / len(typists))
    keepers = [asyncio.create_task(keep_connected(t.client, stop, outages)) for t in typists]
    saves = []
    cpu, cpu_stop = WebCpu(serve_pid), asyncio.Event()
    cpu.sample()
    sampler = asyncio.create_task(cpu.run(cpu_stop))
    started = time.monotonic()
    work = [asyncio.create_task(t.type(args.seconds, args.cps, random.Random(rng.random()))) for t in typists]
    work += [asyncio.create_task(solo_writer(f"http://{host}", w, args.seconds, saves)) for w in solos]
    killed = None
    if args.kill:
        await asyncio.sleep(args.seconds / 2)
        daphnes = [p for p in app_processes(serve_pid) if "daphne" in " ".join(p.cmdline())]
        cpu.sample()
        killed = time.monotonic()
        os.kill(daphnes[0].pid, signal.SIGKILL)
    await asyncio.gather(*work)
    typed_until = time.monotonic()
    cpu_stop.set()
    await sampler
    cpu.sample()
    cpu_used = cpu.used()
    # Quiet: everyone's last tokens reach their partners.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(t.seen < len(t.partner.typed) for t in typists):
        await asyncio.sleep(0.1)
    back = max(outages) if outages else 0
    stop.set()
    await asyncio.gather(*keepers)
    return typists, saves, cpu_used, started, typed_until, killed, back, outages


def converge(pairs, typists):
    """Every chapter: both clients, the server's document and the stored chapter (after settling) agree, and
    every typed token is in it exactly once."""
    from stories import cowrite
    from stories.models import Chapter

    divergent, missing, duplicated, unsettled = [], 0, 0, []
    deadline = time.monotonic() + 90
    for i, pair in enumerate(pairs):
        a, b = typists[2 * i], typists[2 * i + 1]
        client_text = str(a.client)
        server_text = cowrite.text_of(cowrite.document([cowrite.open_draft(pair["chapter"])]))
        while True:
            stored = Chapter.objects.get(pk=pair["chapter"]).content
            if stored == server_text or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if not (client_text == str(b.client) == server_text == stored):
            divergent.append(pair["chapter"])
        if stored != server_text:
            unsettled.append(pair["chapter"])
        for token in a.typed + b.typed:
            count = client_text.count(token)
            missing += count == 0
            duplicated += count > 1
    return divergent, missing, duplicated, unsettled


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--solo", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--cps", type=float, default=4, help="characters a second each writer types")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-kill", dest="kill", action="store_false", help="do not kill a web process")
    args = parser.parse_args()
    setup_django()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from core.models import User
    from storyassistant.embedded import database_url

    call_command("migrate", verbosity=0)
    prefix = f"cowrite{int(time.time())}"
    pairs, solos = make_pairs(args.pairs, args.solo, prefix)
    connection.close()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]), "REDIS_URL": settings.REDIS_URL,
           "LOG_LEVEL": "WARNING", "SAVES_PER_MINUTE": "1000"}  # fmt: skip
    host = f"127.0.0.1:{port}"
    with serving("cowrite", port, env, ["--workers", str(args.workers)]) as (serve, _log):
        typists, saves, cpu_used, started, typed_until, killed, back, outages = asyncio.run(
            drive(args, pairs, solos, host, serve.pid)
        )
        divergent, missing, duplicated, unsettled = converge(pairs, typists)

    from stories.models import Chapter

    solo_lost = sum(Chapter.objects.get(pk=w["chapter"]).content != w["text"] for w in solos)
    User.objects.filter(email__startswith=f"{prefix}-").delete()

    every = [lat for t in typists for _, lat in t.latencies]
    window = (killed, killed + back + 1) if killed else None
    steady = [lat for t in typists for at, lat in t.latencies if not window or not window[0] <= at <= window[1]]
    updates = sum(t.updates for t in typists)
    save_times = [s for code, s in saves if code == 200]

    def ms(values, pct):
        return round(percentile(values, pct) * 1000, 1) if values else None

    result = {
        "pairs": args.pairs, "writers_typing": 2 * args.pairs, "solo_writers": args.solo, "seconds": args.seconds,
        "chars_per_second_each": args.cps, "updates": updates,
        "updates_per_second": round(updates / max(0.001, typed_until - started), 1),
        "tokens": len(every),
        "propagation_ms": {"p50": ms(every, 50), "p95": ms(every, 95), "p99": ms(every, 99), "max": ms(every, 100)},
        "propagation_steady_ms": {"p50": ms(steady, 50), "p95": ms(steady, 95), "p99": ms(steady, 99)},
        "web_cpu_ms_per_update": round(cpu_used * 1000 / max(1, updates), 3),
        "web_cpu_seconds": round(cpu_used, 1),
        "killed_web_process": bool(killed), "reconnects": len(outages),
        "longest_reconnect_s": round(max(outages), 2) if outages else 0,
        "divergent_chapters": len(divergent), "lost_keystrokes_tokens": missing, "duplicated_tokens": duplicated,
        "unsettled_chapters": len(unsettled),
        "solo_saves": len(saves), "solo_save_errors": sum(code != 200 for code, _ in saves),
        "solo_save_p95_ms": ms(save_times, 95), "solo_texts_lost": solo_lost,
        "targets": {"propagation_p95_ms": 150, "divergent_chapters": 0, "lost_keystrokes": 0},
    }  # fmt: skip
    path = write_result("cowrite", result)
    for key, value in result.items():
        print(f"{key:28} {value}")
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
