"""Request bodies are bounded before anything reads them: a body over its route's limit gets 413 from the ASGI
layer, judged on Content-Length or on the bytes streamed so far, and Django never spools it to disk."""

import asyncio
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.asgi import get_asgi_application

from core.bodylimit import UPLOAD_OVERHEAD, BodyLimit, route_limit


def call(app, path, chunks, length=None):
    """Send one request through the ASGI app; the status, the body, and how many chunks the app asked for."""
    headers = [(b"host", b"testserver")] + ([(b"content-length", str(length).encode())] if length is not None else [])
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "query_string": b"",
             "server": ("testserver", 80), "client": ("127.0.0.1", 5000), "scheme": "http"}  # fmt: skip
    sent, asked = [], 0

    async def receive():
        nonlocal asked
        asked += 1
        if asked <= len(chunks):
            return {"type": "http.request", "body": chunks[asked - 1], "more_body": asked < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    # In a thread of its own: asyncio.run() refuses to start where a loop already runs (another test's).
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, app(scope, receive, send)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body.decode(), asked


def test_uploads_have_their_own_limit_and_every_other_route_the_general_one(settings):
    assert route_limit("/import/") == (settings.MANUSCRIPT_MAX_BYTES + UPLOAD_OVERHEAD, True)
    assert route_limit("/backups/restore/") == (settings.BACKUP_MAX_BYTES + UPLOAD_OVERHEAD, True)
    assert route_limit("/characters/import-card/") == (settings.CARD_MAX_BYTES + UPLOAD_OVERHEAD, True)
    assert route_limit("/stories/1/world/import/") == (settings.LOREBOOK_MAX_BYTES + UPLOAD_OVERHEAD, True)
    assert route_limit("/stories/1/chapters/2/save/") == (settings.DATA_UPLOAD_MAX_MEMORY_SIZE, False)
    assert route_limit("/no/such/page") == (settings.DATA_UPLOAD_MAX_MEMORY_SIZE, False)


def test_a_declared_length_over_the_limit_is_refused_before_the_app_sees_the_request(settings):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope)

    status, body, asked = call(BodyLimit(app), "/import/", [b"x"], length=300 * 1024 * 1024)
    assert status == 413 and body == "The file is too large; the limit is 25 MB. Nothing was saved."
    assert seen == [] and asked == 0
    status, body, _ = call(BodyLimit(app), "/api/stories", [b"x"], length=settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert status == 413 and body.startswith('{"error": "The request is too large; the limit is 5 MB.')


@pytest.mark.django_db
def test_a_body_that_streams_past_the_limit_is_cut_off_and_refused(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    chunks = [b"x" * 256 * 1024] * 40  # 10 MB, sent without a length
    status, body, asked = call(BodyLimit(get_asgi_application()), "/accounts/login/", chunks)
    assert status == 413 and "limit is 1 MB" in body
    assert asked == 5  # Django stopped reading at the first chunk past the limit


def test_through_daphne_an_unauthenticated_huge_post_is_refused_at_once(web_server):
    host, port = web_server.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /backups/restore/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/zip\r\n"
            b"Content-Length: 268435456\r\n\r\n" + b"x" * 65536
        )
        started = time.monotonic()
        answer = sock.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413") and "the limit is 200 MB" in answer
    assert time.monotonic() - started < 2
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * (1024 * 1024)
        answer = b""
        try:
            for _ in range(40):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = sock.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413") and "the limit is 5 MB" in answer


def test_a_client_still_sending_a_file_a_little_over_the_limit_reads_the_message(web_server):
    """A browser that is still sending when the server closes shows a reset connection, not the 413's message: a
    body up to DISCARD_MAX over the limit is read to its end and dropped, then the connection closes."""
    host, port = web_server.split(":")
    size = 26 * 1024 * 1024
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(b"POST /import/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: %d\r\n\r\n" % size)  # fmt: skip
        block = b"x" * (1024 * 1024)
        for _ in range(size // len(block)):
            sock.sendall(block)  # every byte is taken: no reset while sending
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    text = answer.decode(errors="replace")
    assert text.startswith("HTTP/1.1 413") and text.endswith(
        "The file is too large; the limit is 25 MB. Nothing was saved."
    )
