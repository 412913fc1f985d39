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
    return env


@pytest.fixture
def rq_worker(transactional_db, redis_conn):
    """A real `manage.py rqworker` process on every queue, against the test database and Redis."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", *settings.RQ_QUEUE_NAMES],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not Worker.all(connection=redis_conn):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read().decode(errors="replace")
            pytest.fail(f"The RQ worker did not start:\n{output}")
        time.sleep(0.1)
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def local_server():
    """A local HTTP server that a test teaches to speak a service's wire protocol."""
    from tests.httpserver import LocalServer

    server = LocalServer()
    yield server
    server.close()


@pytest.fixture
def count_queries():
    """count_queries(fn) -> how many SQL queries fn() ran."""
    from django.test.utils import CaptureQueriesContext

    def count(fn):
        with CaptureQueriesContext(connection) as captured:
            fn()
        return len(captured.captured_queries)

    return count
