"""What a busy site does to generations: slow model calls, a task taken over by another worker, double accepts,
jobs that fail before they start, and writers who queue too much."""

import os
import subprocess
import sys
import threading
import time

import pytest
from django.urls import reverse
from django.utils import timezone
from rq import Queue, SimpleWorker

from generation import dispatch as dispatch_module
from generation import tasks as tasks_module
from generation.dispatch import dispatch, start_generation
from generation.models import GenerationStep, GenerationTask, ProposalConflict
from generation.pipeline import execute
from generation.tasks import claim, run_generation
from stories.models import Chapter
from tests.concurrency import at_once

from .conftest import prose

pytestmark = pytest.mark.django_db(transaction=True)


def request_for(chapter, **extra):
    return {"note": "", "cursor": len(chapter.content), "before_cursor": chapter.content[-200:],
            "base_version": chapter.version, **extra}  # fmt: skip


def slow_to_answer(server, seconds):
    """The model server waits `seconds` before its first byte (a model loading, a long queue at the GPU)."""
    chat = server.routes[("POST", "/api/chat")]

    def delayed(request):
        time.sleep(seconds)
        return chat(request)

    server.routes[("POST", "/api/chat")] = delayed


def test_a_model_call_longer_than_the_dead_task_limit_does_not_hand_the_task_to_another_worker(
    user, fake_ollama, story_with_cast, settings
):
    settings.GENERATION_ABANDONED_AFTER = 2  # a heartbeat every second
    slow_to_answer(fake_ollama, 4)
    story, chapter = story_with_cast
    task = start_generation(user, story, "next_chapter", request_for(chapter), chapter=chapter)
    dispatch()
    requeued = []

    def maintenance_meanwhile():
        while not GenerationTask.objects.filter(pk=task.pk, status__in=GenerationTask.FINISHED).exists():
            dispatch()  # what `manage.py maintenance` does
            requeued.append(GenerationTask.objects.get(pk=task.pk).status == "queued")
            time.sleep(0.5)

    watcher = threading.Thread(target=maintenance_meanwhile)
    started = time.monotonic()
    claimed = claim(str(task.pk))
    watcher.start()
    execute(claimed)
    watcher.join()
    task.refresh_from_db()
    assert time.monotonic() - started > 4  # the model really was slower than the limit
    assert task.status == "succeeded" and task.attempts == 1 and not any(requeued)


def test_a_worker_whose_task_was_taken_over_stops_and_writes_nothing(user, fake_ollama, story_with_cast, settings):
    from tests.llm_servers import serve_ollama

    serve_ollama(fake_ollama, reply=lambda body: prose(150), token_delay=0.02)  # about 3 s of writing
    story, chapter = story_with_cast
    task = start_generation(user, story, "next_chapter", request_for(chapter), chapter=chapter)
    first = claim(str(task.pk))
    worker = threading.Thread(target=execute, args=(first,))
    worker.start()
    deadline = time.monotonic() + 30
    while not GenerationTask.objects.filter(pk=task.pk, current_agent="narrative_intelligence").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # The dispatcher judged the first worker dead and a second worker claimed the task.
    GenerationTask.objects.filter(pk=task.pk).update(status="queued", dispatched_at=None)
    second = claim(str(task.pk))
    assert second.attempts == 2
    worker.join(timeout=30)
    assert not worker.is_alive()
    task.refresh_from_db()
    assert task.status == "running" and task.attempts == 2  # still the second worker's, untouched
    assert task.result_content == "" and task.proposal_status == ""
    execute(second)
    task.refresh_from_db()
    assert task.status == "succeeded" and task.result_content == prose(150)
    assert task.steps.get(key="write").status == GenerationStep.Status.SUCCEEDED


def pending_proposal(user, story, chapter, mode, text="She waved."):
    return GenerationTask.objects.create(
        user=user, story=story, chapter=chapter, mode=mode, request=request_for(chapter), status="succeeded",
        result_content=text, proposal_status=GenerationTask.Proposal.PENDING,
    )  # fmt: skip


@pytest.mark.parametrize("mode", ["continue", "next_chapter"])
def test_accepting_a_proposal_twice_at_once_applies_it_once(user, story_with_cast, redis_conn, mode):
    story, chapter = story_with_cast
    task = pending_proposal(user, story, chapter, mode)

    def accept():  # each tab loaded the task itself
        return GenerationTask.objects.select_related("story", "chapter").get(pk=task.pk).accept_proposal(user)

    outcomes = at_once(2, accept)
    assert sorted(type(o).__name__ for o in outcomes) == ["Chapter", "ProposalConflict"]
    texts = list(story.chapters.values_list("content", flat=True))
    assert sum(text.count("She waved.") for text in texts) == 1
    assert story.chapters.count() == (2 if mode == "next_chapter" else 1)


def test_an_accepted_proposal_obeys_the_chapter_size_limit(user, story_with_cast, settings, monkeypatch):
    from stories import models

    monkeypatch.setattr(models, "CHAPTER_MAX_CHARS", 60)
    story, chapter = story_with_cast
    task = pending_proposal(user, story, chapter, "continue", text="A long continuation that does not fit.")
    with pytest.raises(ProposalConflict, match="limit is 60"):
        task.accept_proposal(user)
    assert Chapter.objects.get(pk=chapter.pk).content == chapter.content
    task.refresh_from_db()
    assert task.proposal_status == "pending"  # still there to shorten and accept


def test_a_job_that_failed_before_starting_gives_its_slot_back(user, fake_ollama, story_with_cast, redis_conn,
                                                               monkeypatch):  # fmt: skip
    story, chapter = story_with_cast
    task = start_generation(user, story, "next_chapter", request_for(chapter), chapter=chapter)
    queue = Queue("realtime", connection=redis_conn)
    assert queue.count == 1

    def database_went_away(task_id):
        raise RuntimeError("connection to the database was lost")

    monkeypatch.setattr(tasks_module, "claim", database_went_away)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    monkeypatch.undo()
    task.refresh_from_db()
    assert task.status == "queued" and task.dispatched_at is not None  # the slot is taken by a failed job
    # Before, only a job missing from Redis was dispatched again; a failed one held the slot for good.
    monkeypatch.setattr(dispatch_module, "REDISPATCH_AFTER", dispatch_module.timedelta(seconds=0))
    dispatch()
    task.refresh_from_db()
    assert task.dispatches == 2 and queue.count == 1
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    task.refresh_from_db()
    assert task.status == "succeeded"


def test_a_job_that_keeps_failing_before_starting_ends_with_a_reason(user, story_with_cast, redis_conn, settings,
                                                                     monkeypatch):  # fmt: skip
    monkeypatch.setattr(dispatch_module, "REDISPATCH_AFTER", dispatch_module.timedelta(seconds=0))
    story, chapter = story_with_cast
    task = GenerationTask.objects.create(
        user=user, story=story, chapter=chapter, request=request_for(chapter), dispatched_at=timezone.now(),
        dispatches=settings.GENERATION_MAX_ATTEMPTS + 2,
    )  # fmt: skip
    dispatch()  # its job is nowhere: a lost hand-over, and it has had its share
    task.refresh_from_db()
    assert task.status == "failed" and "No worker could start" in task.error


def test_a_cancelled_task_whose_worker_died_ends_cancelled(user, story_with_cast):
    story, chapter = story_with_cast
    task = GenerationTask.objects.create(
        user=user, story=story, chapter=chapter, status="running", attempts=1, cancel_requested=True,
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1),
    )  # fmt: skip
    dispatch()
    task.refresh_from_db()
    assert task.status == "cancelled"  # not queued again, where no claim could ever take it


def test_a_writer_flooding_the_queue_is_told_to_wait(writer_client, user, story_with_cast, settings, redis_conn):
    settings.GENERATION_QUEUE_PER_USER = 3
    story, chapter = story_with_cast
    url = reverse("generate", args=[story.pk])
    form = {"mode": "next_chapter", "chapter": chapter.pk}
    for _ in range(3):
        assert writer_client.post(url, form, headers={"HX-Request": "true"}).status_code == 200
    response = writer_client.post(url, form, headers={"HX-Request": "true"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "3 requests waiting or running" in response.content.decode()
    assert GenerationTask.objects.filter(user=user).count() == 3


def test_two_requests_at_once_cannot_both_squeeze_past_the_queue_cap(user, story_with_cast, settings, redis_conn):
    settings.GENERATION_QUEUE_PER_USER = 1
    story, chapter = story_with_cast
    outcomes = at_once(4, lambda: start_generation(user, story, "next_chapter", request_for(chapter), chapter=chapter))
    assert sorted(type(o).__name__ for o in outcomes) == ["GenerationTask", "QueueFull", "QueueFull", "QueueFull"]


def test_the_api_says_429_with_retry_after_when_the_queue_is_full(user, story_with_cast, settings, redis_conn):
    from django.test import Client

    from api.models import ApiToken

    settings.GENERATION_QUEUE_PER_USER = 1
    story, chapter = story_with_cast
    _, key = ApiToken.issue(user, "script")
    api = Client(headers={"Authorization": f"Bearer {key}"})
    url = reverse("api_generate", args=[story.pk])
    assert api.post(url, {"mode": "next_chapter"}, content_type="application/json").status_code == 202
    response = api.post(url, {"mode": "next_chapter"}, content_type="application/json")
    assert response.status_code == 429 and response["Retry-After"]
    assert "waiting or running" in response.json()["error"]


def test_run_generation_still_runs_through_the_job_entry_point(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    task = start_generation(user, story, "next_chapter", request_for(chapter), chapter=chapter)
    assert run_generation(str(task.pk)) == "succeeded"


def test_a_generation_finishes_while_redis_is_unreachable(user, fake_ollama, story_with_cast, settings):
    from django.core.cache import caches

    # The cache (vectors, model answers, the streaming draft) and the channel layer (live updates) both point at a
    # socket nobody listens on: a real connection failure, as while Redis restarts.
    dead = "unix:///nonexistent/redis.sock?db=0"
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": dead}}
    settings.CHANNEL_LAYERS = {
        "default": {**settings.CHANNEL_LAYERS["default"], "CONFIG": {"hosts": [{"address": dead}]}}
    }
    caches["default"].get("anything")  # the stock backend would raise here; a miss instead
    story, chapter = story_with_cast
    task = start_generation(user, story, "next_chapter", request_for(chapter), chapter=chapter)
    execute(claim(str(task.pk)))
    task.refresh_from_db()
    assert task.status == "succeeded" and task.result_content == prose(120)


def stale_running_task(user, story_with_cast, redis_conn, worker_name: str, pid: int):
    """A running task whose heartbeat stopped an hour ago, whose RQ job a worker named `worker_name` (its
    process `pid`, on this host) has started."""
    story, chapter = story_with_cast
    task = GenerationTask.objects.create(
        user=user, story=story, chapter=chapter, status="running", attempts=1, dispatches=1,
        dispatched_at=timezone.now(), heartbeat_at=timezone.now() - timezone.timedelta(hours=1),
    )  # fmt: skip
    queue = Queue("realtime", connection=redis_conn)
    job = queue.enqueue(dispatch_module.RUN_GENERATION, str(task.pk), job_id=dispatch_module.job_id(task))
    job.set_status("started")
    job.worker_name = worker_name
    job.save()
    worker = SimpleWorker([queue], connection=redis_conn, name=worker_name)
    worker.register_birth()
    redis_conn.hset(worker.key, "pid", pid)
    return task


def test_a_task_whose_worker_is_busy_but_silent_is_not_run_twice(user, story_with_cast, redis_conn):
    task = stale_running_task(user, story_with_cast, redis_conn, "busy-worker", os.getpid())  # alive: this process
    dispatch()
    task.refresh_from_db()
    assert task.status == "running" and task.attempts == 1  # left to the worker that is still computing


def test_a_task_whose_worker_process_is_gone_is_resumed(user, story_with_cast, redis_conn):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    task = stale_running_task(user, story_with_cast, redis_conn, "gone-worker", gone.pid)
    dispatch()
    task.refresh_from_db()
    assert task.status == "queued" and "The worker stopped during" in task.error
