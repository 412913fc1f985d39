"""Requests' synchronous work runs on threads kept from earlier requests, at most WEB_THREADS at once."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished, request_started

from core.asgi import ReusedThreadsASGIHandler


def http_scope(path="/healthz/floor"):
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip


async def get(handler) -> int:
    """One GET through the handler, as a server would make it; its status."""
    app = ApplicationCommunicator(handler, http_scope())
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(10)
    await app.receive_output(10)  # the body
    await app.wait(10)
    return start["status"]


class Receivers:
    """Connects `on_start`/`on_finish` to Django's request signals, which run on the request's own thread."""

    def __init__(self, on_start, on_finish=None):
        self.on_start, self.on_finish = on_start, on_finish

    def __enter__(self):
        request_started.connect(self.on_start)
        if self.on_finish:
            request_finished.connect(self.on_finish)

    def __exit__(self, *exc):
        request_started.disconnect(self.on_start)
        if self.on_finish:
            request_finished.disconnect(self.on_finish)


async def one_after_another(handler, count):
    return [await get(handler) for _ in range(count)]


async def at_once(handler, count):
    return await asyncio.gather(*(get(handler) for _ in range(count)))


def serve(scenario, *args):
    """Run `scenario` as a server would: on an event loop of its own, on a thread of its own (the test process may
    already have a loop running on its main thread, the browser tests' for one)."""
    with ThreadPoolExecutor(1) as server:
        return server.submit(asyncio.run, scenario(*args)).result()


def test_requests_one_after_another_run_on_one_kept_thread(settings):
    settings.REQUEST_TIMING = True  # the floor view exists
    threads = []

    def started(**kwargs):
        threads.append(threading.get_ident())

    handler = ReusedThreadsASGIHandler(threads=2)
    with Receivers(started):
        statuses = serve(one_after_another, handler, 5)
    assert statuses == [200] * 5
    assert len(threads) == 5
    assert len(set(threads)) == 1  # stock Django starts a new thread for each of them
    assert threads[0] != threading.get_ident()  # not on the test's thread
    assert len(handler.idle) == 1


def test_no_more_requests_run_at_once_than_threads(settings):
    settings.REQUEST_TIMING = True
    lock = threading.Lock()
    active, peak, threads = [0], [0], set()

    def started(**kwargs):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            threads.add(threading.get_ident())
        time.sleep(0.2)  # a slow request: the others arrive meanwhile

    def finished(**kwargs):
        with lock:
            active[0] -= 1

    handler = ReusedThreadsASGIHandler(threads=2)
    with Receivers(started, finished):
        statuses = serve(at_once, handler, 6)
    assert statuses == [200] * 6
    assert peak[0] == 2  # two ran together, the others waited for a thread
    assert len(threads) == 2
    assert active[0] == 0


def test_the_app_serves_http_through_the_kept_threads_handler(settings):
    from storyassistant.asgi import django_asgi_app

    assert isinstance(django_asgi_app, ReusedThreadsASGIHandler)
    assert django_asgi_app.threads == settings.WEB_THREADS
