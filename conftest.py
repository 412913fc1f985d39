import os
import subprocess
import sys
import time
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.db import connection
from rq import Worker

from storyassistant.embedded import database_url
from tests import factories

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def memory_syncs_at_once(settings):
    """Saves in this process queue their memory sync without the settling delay (one test checks the delay)."""
    settings.MEMORY_SYNC_DELAY = 0


@pytest.fixture(autouse=True)
def no_fallback_model(settings):
    """A failing model fails the step, unless a test of the fallback turns it on (the built-in model is slow)."""
    settings.LLM_FALLBACK_MODEL = ""


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    """Pictures a test stores go to its own folder, never into the site's media."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def user(db):
    return factories.make_user("writer@example.com")


@pytest.fixture
def other_user(db):
    return factories.make_user("someone-else@example.com")


@pytest.fixture
def writer_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def other_client(other_user):
    from django.test import Client

    other = Client()
    other.force_login(other_user)
    return other


@pytest.fixture
def redis_conn():
    """The test Redis database (settings.REDIS_DB), emptied before and after the test."""
    conn = django_rq.get_connection(settings.RQ_QUEUE_NAMES[0])
    conn.flushdb()
    yield conn
    conn.flushdb()


def child_env() -> dict:
    """Environment for app processes a test starts: the test database and the test Redis database."""
    env = os.environ.copy()
    env["DATABASE_URL"] = database_url(connection.settings_dict)
    env["REDIS_URL"] = settings.REDIS_URL
    env["REDIS_DB"] = str(settings.REDIS_DB)
    env["EMBEDDINGS_PRELOAD"] = "false"  # each test's daphne starts in a second; a search loads the model itself
    env["MEMORY_SYNC_DELAY"] = "0"  # tests that wait for memory need not wait for autosaves to settle
    env["MEDIA_ROOT"] = str(settings.MEDIA_ROOT)  # the worker stores pictures where the web process serves them
    env["LLM_FALLBACK_MODEL"] = settings.LLM_FALLBACK_MODEL
    return env


@pytest.fixture
def worker_env():
    """Extra environment for app processes a test starts (e.g. which LLM server to use)."""
    return {}


def start_process(args, env_extra, ready, what, timeout=60):
    """Start an app process; its output goes to a log file (a pipe nobody reads would block it when full)."""
    import tempfile

    fd, log_path = tempfile.mkstemp(prefix="storyassistant-", suffix=".log")
    with os.fdopen(fd, "wb") as log:  # the child keeps its own copy of the descriptor
        env = {**child_env(), **env_extra}
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = log_path
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{what} did not start:\n{process_output(process)}")
        time.sleep(0.1)
    return process


def process_output(process, tail=4000) -> str:
    with open(process.log_path, errors="replace") as log:
        return log.read()[-tail:]


def stop_process(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def start_worker(transactional_db, redis_conn, worker_env):
    """start_worker() -> a real `manage.py rqworker` process on every queue, against the test database."""
    processes = []

    def start():
        before = len(Worker.all(connection=redis_conn))
        process = start_process(
            [sys.executable, "manage.py", "rqworker", "--with-scheduler", *settings.RQ_QUEUE_NAMES],
            worker_env,
            lambda: len(Worker.all(connection=redis_conn)) > before,
            "The RQ worker",
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        stop_process(process)


@pytest.fixture
def rq_worker(start_worker):
    return start_worker()


def start_daphne(env_extra):
    """A daphne process serving the app (HTTP and websockets) on a free port: (process, "host:port")."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def listening():
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    process = start_process(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "storyassistant.asgi:application"],
        env_extra,
        listening,
        "daphne",
    )
    return process, f"127.0.0.1:{port}"


@pytest.fixture
def web_server(transactional_db, redis_conn, worker_env):
    """daphne serving the app (HTTP and websockets) on a free port, against the test database and Redis."""
    process, host = start_daphne(worker_env)
    yield host
    stop_process(process)


@pytest.fixture
def local_server():
    """A local HTTP server that a test teaches to speak a service's wire protocol."""
    from tests.httpserver import LocalServer

    server = LocalServer()
    yield server
    server.close()


@pytest.fixture
def image_services(settings):
    """Local ComfyUI, Images API and Automatic1111 servers; none configured until a test picks them."""
    from pictures import making
    from tests.httpserver import LocalServer
    from tests.image_servers import serve_a1111, serve_comfyui, serve_openai_images

    servers = {"comfyui": LocalServer(), "openai": LocalServer(), "a1111": LocalServer()}
    serve_comfyui(servers["comfyui"])
    serve_openai_images(servers["openai"])
    serve_a1111(servers["a1111"])
    settings.COMFYUI_URLS, settings.OPENAI_IMAGES_BASE_URL, settings.A1111_URLS = [], "", []
    settings.IMAGE_RETRIES = 0
    making._down_until.clear()
    yield servers
    making._down_until.clear()
    for server in servers.values():
        server.close()


@pytest.fixture
def languagetool(local_server, settings):
    """A local server answering like LanguageTool, configured as LANGUAGETOOL_URL."""
    from agents.checks import grammar
    from tests.languagetool import serve_languagetool

    grammar._tool.cache_clear()
    yield serve_languagetool(local_server, settings)
    grammar._tool.cache_clear()


@pytest.fixture
def count_queries():
    """count_queries(fn) -> how many SQL queries fn() ran."""
    from django.test.utils import CaptureQueriesContext

    def count(fn):
        with CaptureQueriesContext(connection) as captured:
            fn()
        return len(captured.captured_queries)

    return count


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After the run, end connections other threads left open (channels' executor, live servers), so the test
    database can be dropped."""
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
