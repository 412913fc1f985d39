"""Scale-out: two app hosts (two daphne processes on their own ports), one PostgreSQL, one Redis, and a worker
started apart from both. What one host starts, the other shows; sessions and limits hold across them."""

import re
import time

import pytest
import requests

from api.models import ApiToken
from conftest import start_daphne, stop_process
from generation.models import GenerationTask
from stories.models import Chapter
from tests.conftest import PROSE
from tests.test_live_generation import api_generate, run_async, session_cookie, watch

pytestmark = pytest.mark.django_db(transaction=True)
VERSION_RE = re.compile(r'name="base_version" value="(\d+)"')


@pytest.fixture
def two_hosts(transactional_db, redis_conn, worker_env):
    started = [start_daphne({**worker_env, "SAVES_PER_MINUTE": "4"}) for _ in range(2)]
    yield [host for _, host in started]
    for process, _ in started:
        stop_process(process)


def test_a_generation_started_on_one_host_streams_to_a_page_on_the_other(two_hosts, start_worker, writer_story):
    host_a, host_b = two_hosts
    writer, story, chapter = writer_story
    cookie = session_cookie(writer)
    for host in (host_a, host_b):  # one sign-in, both hosts
        page = requests.get(f"http://{host}{chapter.get_absolute_url()}", cookies={"sessionid": cookie}, timeout=10)
        assert page.status_code == 200 and "Stairs" in page.text

    _, key = ApiToken.issue(writer, "scale-out")
    task_id = api_generate(host_b, story, chapter, key, note="She lights the lamp.")
    # The page on host A subscribes before any worker exists; the worker runs on neither host.
    watcher = run_async(watch(host_a, task_id, cookie, on_open=start_worker))
    assert watcher.statuses[-1] == "succeeded" and len(watcher.token_times) > 5
    assert watcher.draft.strip() and GenerationTask.objects.get(pk=task_id).result_content == PROSE


def test_a_writers_limit_is_counted_across_hosts(two_hosts, writer_story):
    host_a, host_b = two_hosts
    writer, story, chapter = writer_story
    session = requests.Session()
    session.cookies.set("sessionid", session_cookie(writer))
    editor = f"http://{host_a}{chapter.get_absolute_url()}"
    page = session.get(editor, timeout=10)
    headers = {"X-CSRFToken": session.cookies["csrftoken"], "HX-Request": "true", "Referer": editor}
    version = int(VERSION_RE.search(page.text).group(1))
    answers = []
    # The limit counts per minute of the clock (fixed windows): five saves straddling a minute's end would be
    # counted in two windows, so they start early enough in one.
    if time.time() % 60 > 45:
        time.sleep(60.5 - time.time() % 60)
    for n in range(5):  # SAVES_PER_MINUTE is 4 on both hosts: the fifth save, wherever it goes, is one too many
        host = (host_a, host_b)[n % 2]
        data = {"title": "Stairs", "content": f"Draft {n}.", "base_version": version}
        response = session.post(f"http://{host}{chapter.get_absolute_url()}save/", data=data, headers=headers,
                                timeout=10)  # fmt: skip
        answers.append(response.status_code)
        if response.status_code == 200:
            version = int(VERSION_RE.search(response.text).group(1))
    assert answers == [200, 200, 200, 200, 429], answers
    assert "Retry-After" in response.headers
    assert Chapter.objects.get(pk=chapter.pk).content == "Draft 3."
