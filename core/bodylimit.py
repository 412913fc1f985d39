"""Request bodies bounded before anything reads them.

Django's ASGI handler reads a request's whole body (spooling it to a temporary file past a few MB) before any
middleware or view runs, so a size check in a view comes after the disk has filled. `BodyLimit` sits in front of
it: a body over its route's limit is refused with 413 as soon as its Content-Length says so, or as soon as the
bytes streamed so far pass the limit (for a body sent without a length, or one that lies about it).

Daphne itself (Twisted's HTTP request) also spools the whole body before it hands it to the application, so in a
daphne process the same check runs one step earlier, as the body arrives (`LimitedRequestMixin`, mixed into
daphne's request class by storyassistant/asgi.py): nothing over the limit is ever written to disk.

A view that takes a file names its limit with @accepts_upload("SETTING_NAME"); every other route may receive
DATA_UPLOAD_MAX_MEMORY_SIZE (a long chapter, form-encoded, is the largest ordinary body).
"""

import json
from urllib.parse import unquote

from django.conf import settings
from django.urls import Resolver404, resolve

# A multipart upload carries a little more than the file itself.
UPLOAD_OVERHEAD = 64 * 1024


def accepts_upload(setting: str):
    """Mark a view as taking a file of up to settings.<setting> bytes (the outermost decorator)."""

    def mark(view):
        view.upload_limit_setting = setting
        return view

    return mark


def route_limit(path: str) -> tuple[int, bool]:
    """The most bytes a request to `path` may carry, and whether it is an upload route."""
    try:
        setting = getattr(resolve(path).func, "upload_limit_setting", None)
    except Resolver404:
        setting = None
    if setting:
        return getattr(settings, setting) + UPLOAD_OVERHEAD, True
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE, False


def describe(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


class BodyLimit:
    """ASGI middleware: 413 for an HTTP request body over its route's limit, before the application reads it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, upload = route_limit(scope["path"])
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await refuse(scope, send, limit, upload)
        received, over, started = 0, False, False

        async def bounded_receive():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django stops reading on a disconnect and answers nothing; the 413 is sent below.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, bounded_receive, watched_send)
        if over and not started:
            await refuse(scope, send, limit, upload)


def refusal_body(path: str, accept: bytes, limit: int, upload: bool) -> tuple[bytes, bytes]:
    """The 413's body and content type: JSON for the API and for clients asking for JSON, else plain text."""
    what = "file" if upload else "request"
    message = f"The {what} is too large; the limit is {describe(limit - (UPLOAD_OVERHEAD if upload else 0))}."
    message += " Nothing was saved."
    if path.startswith("/api/") or b"application/json" in accept:
        return json.dumps({"error": message}).encode(), b"application/json"
    return message.encode(), b"text/plain; charset=utf-8"


async def refuse(scope, send, limit: int, upload: bool):
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    body, content_type = refusal_body(scope["path"], accept, limit, upload)
    await send({
        "type": "http.response.start", "status": 413,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"), (b"hx-reswap", b"none")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


# Of a refused body, this much is read and dropped (never stored) so that the client, still sending, gets to read the
# 413 and its message (a browser shows a reset connection instead); past it, or for a body declared larger, the
# connection is closed at once.
DISCARD_MAX = 64 * 1024 * 1024


class LimitedRequestMixin:
    """Twisted calls gotLength once the headers are in and handleContentChunk for each piece of the body: past the
    route's limit the client gets 413 at once, and the rest of the body is dropped, never stored."""

    refused = False

    def gotLength(self, length):
        path = unquote(self.channel._path.split(b"?", 1)[0].decode("latin-1"))
        self.limit, self.upload = route_limit(path)
        self.received = 0
        super().gotLength(0 if length is not None and length > self.limit else length)
        if length is not None and length > self.limit:
            self.refuse(path, close=length > self.limit + DISCARD_MAX)

    def handleContentChunk(self, data):
        self.received += len(data)
        if self.refused:
            if self.received > self.limit + DISCARD_MAX:
                self.channel.transport.loseConnection()
            return
        if self.received > self.limit:
            self.refuse(unquote(self.channel._path.split(b"?", 1)[0].decode("latin-1")))
            return
        super().handleContentChunk(data)

    def process(self):
        if self.refused:  # the body has all arrived, and was dropped: the answer is already on its way
            self.channel.transport.loseConnection()
            return None
        return super().process()

    def refuse(self, path: str, close: bool = False):
        self.refused = True
        accept = (self.requestHeaders.getRawHeaders(b"accept") or [b""])[0]
        body, content_type = refusal_body(path, accept, self.limit, self.upload)
        self.channel.transport.write(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: " + content_type
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\nHX-Reswap: none\r\n\r\n"
            + body
        )  # fmt: skip
        if close:
            self.channel.transport.loseConnection()
