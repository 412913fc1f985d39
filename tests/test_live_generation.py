"""End to end: daphne and RQ workers as real processes, a real websocket client, real PostgreSQL and Redis, and the
LLM served by a local server speaking the Ollama API (or the embedded SmolLM2 model, for real)."""

import asyncio
import html
import re
import signal
import time

import pytest
import requests
import websockets
from django.test import Client

from agents.team.narrative_intelligence import clean
from api.models import ApiToken
from generation.dispatch import dispatch
from generation.models import GenerationTask
from tests.conftest import PROSE
from tests.factories import make_user
from tests.llm_servers import serve_ollama

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN_RE = re.compile(r'<span id="draft-[^"]+" hx-swap-oob="beforeend">(.*?)</span>', re.S)
DRAFT_RE = re.compile(r'<div class="draft prose" id="draft-[^"]+">(.*?)</div>', re.S)
STATUS_RE = re.compile(r'data-status="(\w+)"')


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Watcher:
    """A browser's view of one task over the websocket: the draft as htmx would show it, and every status."""

    def __init__(self):
        self.draft, self.statuses, self.token_times, self.messages = "", [], [], 0

    def feed(self, message: str):
        self.messages += 1
        if panel := DRAFT_RE.search(message):  # a whole-panel update replaces the draft
            self.draft = html.unescape(panel.group(1))
            self.statuses += STATUS_RE.findall(message)
        for chunk in TOKEN_RE.findall(message):  # a token batch appends to it
            self.draft += html.unescape(chunk)
            self.token_times.append(time.monotonic())


async def watch(host, task_id, cookie, until=("succeeded", "failed", "cancelled"), timeout=120, on_open=None):
    watcher = Watcher()
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://{host}"}
    async with websockets.connect(f"ws://{host}/ws/tasks/{task_id}/", additional_headers=headers) as socket:
        if on_open:
            await asyncio.get_running_loop().run_in_executor(None, on_open)
        deadline = time.monotonic() + timeout
        while not (watcher.statuses and watcher.statuses[-1] in until):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no final status within {timeout}s; saw {watcher.statuses}")
            watcher.feed(await asyncio.wait_for(socket.recv(), remaining))
    return watcher


def run_async(coroutine):
    """asyncio.run on a thread of its own: the browser tests keep an event loop running in the main thread."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def api_generate(host, story, chapter, key, **data):
    response = requests.post(
        f"http://{host}/api/stories/{story.pk}/generate-content",
        json={"mode": "next_chapter", "chapter_id": chapter.pk, **data},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


def test_a_chapter_streams_token_by_token_to_the_browser_and_is_accepted(web_server, start_worker, writer_story):
    writer, story, chapter = writer_story
    _, key = ApiToken.issue(writer, "e2e")
    task_id = api_generate(web_server, story, chapter, key, note="She lights the lamp.")
    # Subscribe before any worker exists, so every token must travel over the socket.
    watcher = run_async(watch(web_server, task_id, session_cookie(writer), on_open=start_worker))

    task = GenerationTask.objects.get(pk=task_id)
    assert watcher.statuses[0] == "queued" and watcher.statuses[-1] == "succeeded"
    assert "running" in watcher.statuses
    assert len(watcher.token_times) > 5  # batched, but many batches: it streamed
    assert clean(watcher.draft) == task.result_content == PROSE
    status = requests.get(
        f"http://{web_server}/api/tasks/{task_id}/status", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).json()
    assert status["status"] == "succeeded" and status["progress"] == 100 and status["partial_result"] == PROSE

    client = Client()
    client.force_login(writer)
    client.post(f"/tasks/{task_id}/accept/")
    assert story.chapters.get(order=2).content == PROSE


def test_a_reload_mid_stream_resumes_from_the_current_text(web_server, start_worker, writer_story, slow_ollama):
    writer, story, chapter = writer_story
    _, key = ApiToken.issue(writer, "e2e")
    task_id = api_generate(web_server, story, chapter, key)
    start_worker()
    cookie = session_cookie(writer)
    run_async(watch(web_server, task_id, cookie, until=("running",)))
    time.sleep(1.0)  # some tokens go by with nobody watching
    watcher = run_async(watch(web_server, task_id, cookie))  # "reload": a new socket
    assert watcher.statuses[0] == "running" and watcher.statuses[-1] == "succeeded"
    assert clean(watcher.draft) == PROSE


def test_another_user_cannot_subscribe_over_a_real_socket(web_server, writer_story):
    writer, story, chapter = writer_story
    task = GenerationTask.objects.create(user=writer, story=story, chapter=chapter)
    stranger_cookie = session_cookie(make_user())

    async def attempt():
        headers = {"Cookie": f"sessionid={stranger_cookie}", "Origin": f"http://{web_server}"}
        async with websockets.connect(f"ws://{web_server}/ws/tasks/{task.pk}/", additional_headers=headers) as s:
            await s.recv()

    # The consumer closes before accepting, so the server refuses the handshake: the socket never opens.
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        run_async(attempt())
    assert refused.value.response.status_code == 403


def test_a_worker_killed_mid_generation_is_resumed_by_another(start_worker, writer_story, settings, slow_ollama):
    settings.GENERATION_ABANDONED_AFTER = 3
    writer, story, chapter = writer_story
    slow_ollama.routes.clear()
    serve_ollama(slow_ollama, reply=lambda body: PROSE, token_delay=0.1)  # about 6 s of writing
    first = start_worker()
    task = GenerationTask.objects.create(user=writer, story=story, chapter=chapter, request={"note": ""})
    dispatch()
    deadline = time.monotonic() + 60
    while not GenerationTask.objects.filter(pk=task.pk, current_agent="narrative_intelligence").exists():
        assert time.monotonic() < deadline, "the worker never started writing"
        time.sleep(0.1)
    time.sleep(1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    context_step = task.steps.get(key="context")
    time.sleep(settings.GENERATION_ABANDONED_AFTER + 2)

    dispatch()  # what the maintenance job does every 30 s
    task.refresh_from_db()
    assert task.status == "queued" and "resuming" in task.error
    start_worker()
    deadline = time.monotonic() + 90
    while not GenerationTask.objects.filter(pk=task.pk, status="succeeded").exists():
        assert time.monotonic() < deadline, GenerationTask.objects.get(pk=task.pk).status
        time.sleep(0.2)
    task.refresh_from_db()
    assert task.attempts == 2 and task.result_content == PROSE
    assert task.steps.get(key="context").started_at == context_step.started_at  # not redone


def test_queued_work_lost_by_a_redis_restart_is_dispatched_again(start_worker, writer_story, redis_conn, monkeypatch):
    from generation import dispatch as dispatch_module

    monkeypatch.setattr(dispatch_module, "REDISPATCH_AFTER", dispatch_module.timedelta(seconds=0))
    writer, story, chapter = writer_story
    task = GenerationTask.objects.create(user=writer, story=story, chapter=chapter, request={"note": ""})
    dispatch()
    assert redis_conn.llen("rq:queue:realtime") == 1
    redis_conn.flushdb()  # what a Redis restart without persistence does to the queue
    start_worker()
    dispatch()
    deadline = time.monotonic() + 90
    while not GenerationTask.objects.filter(pk=task.pk, status="succeeded").exists():
        assert time.monotonic() < deadline, GenerationTask.objects.get(pk=task.pk).status
        time.sleep(0.2)
