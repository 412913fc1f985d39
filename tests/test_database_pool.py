"""daphne with a bounded connection pool, as a real process: many writers saving at once never hold more than the
pool's connections, and a request that cannot get one in time is told to retry (503), never a 500."""

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.db import connection
from django.test import Client

from stories.models import Chapter
from tests.factories import make_chapter, make_story, make_user

pytestmark = pytest.mark.django_db(transaction=True)
BASE_VERSION_RE = re.compile(r'name="base_version" value="(\d+)"')
APP_NAME = f"pool-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def worker_env(request):
    size, timeout = getattr(request, "param", (3, 10))
    return {"DATABASE_POOL_MAX_SIZE": str(size), "DATABASE_POOL_TIMEOUT": str(timeout),
            "DATABASE_APPLICATION_NAME": APP_NAME}  # fmt: skip


class Browser:
    """A signed-in writer's browser: session and CSRF cookies, and the editor's base version."""

    def __init__(self, host, user):
        client = Client()
        client.force_login(user)
        self.http = requests.Session()
        self.http.cookies.set("sessionid", client.cookies["sessionid"].value)
        self.base = f"http://{host}"

    def open(self, chapter):
        page = self.http.get(f"{self.base}/stories/{chapter.story_id}/chapters/{chapter.pk}/", timeout=30)
        assert page.status_code == 200
        self.http.headers["X-CSRFToken"] = self.http.cookies["csrftoken"]
        return int(BASE_VERSION_RE.search(page.text).group(1))

    def save(self, chapter, text, version):
        return self.http.post(
            f"{self.base}/stories/{chapter.story_id}/chapters/{chapter.pk}/save/",
            data={"title": chapter.title, "content": text, "base_version": version},
            headers={"HX-Request": "true"},
            timeout=60,
        )


def connections_of_the_app() -> int:
    params = connection.get_connection_params()
    with psycopg.connect(**{k: params[k] for k in ("dbname", "user", "host") if k in params}) as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        return conn.execute(query, [APP_NAME]).fetchone()[0]


def test_many_writers_saving_at_once_share_a_bounded_pool(web_server):
    writers = []
    for i in range(24):
        user = make_user(f"pool{i}@example.com")
        chapter = make_chapter(make_story(user), content="Once.")
        browser = Browser(web_server, user)
        writers.append((browser, chapter, browser.open(chapter)))
    peak, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], connections_of_the_app())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()

    def write(writer):
        browser, chapter, version = writer
        statuses = []
        for n in range(3):
            response = browser.save(chapter, f"Once. Then {n}.", version)
            statuses.append(response.status_code)
            if response.ok:
                version = int(BASE_VERSION_RE.search(response.text).group(1))
        return statuses

    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        statuses = [s for result in pool.map(write, writers) for s in result]
    stop.set()
    sampler.join()
    assert statuses == [200] * len(writers) * 3
    assert 1 <= peak[0] <= 3  # 24 writers at once, never more than the pool's three connections
    assert all(Chapter.objects.get(pk=chapter.pk).content == "Once. Then 2." for _, chapter, _ in writers)


@pytest.mark.parametrize("worker_env", [(1, 1)], indirect=True)
def test_a_request_that_cannot_get_a_connection_in_time_is_a_503_to_retry(web_server):
    user = make_user()
    chapter = make_chapter(make_story(user), content="Locked.")
    browser = Browser(web_server, user)
    version = browser.open(chapter)
    params = connection.get_connection_params()
    # Another session holds the chapter's row, so a save waits on it while holding the pool's only connection.
    with psycopg.connect(**{k: params[k] for k in ("dbname", "user", "host") if k in params}) as locker:
        locker.execute("SELECT 1 FROM stories_chapter WHERE id = %s FOR UPDATE", [chapter.pk])
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting_save = pool.submit(browser.save, chapter, "Locked. Unlocked.", version)
            time.sleep(1.0)
            busy = browser.http.get(f"{browser.base}/", timeout=30)
            assert busy.status_code == 503
            assert busy.headers["Retry-After"] == "5" and "Nothing you wrote is lost" in busy.text
            locker.rollback()  # the lock goes; the waiting save goes through
            assert waiting_save.result().status_code == 200
    assert Chapter.objects.get(pk=chapter.pk).content == "Locked. Unlocked."
