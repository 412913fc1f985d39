"""A small threaded HTTP server for tests: routes answer like the real service and every request is recorded."""

import contextlib
import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def form(self) -> dict:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}

    def json(self):
        return json.loads(self.body or b"null")


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client that gave up (a test of timeouts) is expected; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class LocalServer:
    """routes: {(method, path): handler(Recorded) -> (status, headers, body)}; body may be bytes, str, dict or list,
    or an iterator of bytes to stream a chunked response. port: 0 for any free one, or a fixed one (to start a
    server again where a stopped one was)."""

    routes: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    port: int = 0
    websocket_routes: dict = field(default_factory=dict)

    def __post_init__(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                parsed = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command,
                    parsed.path,
                    parse_qs(parsed.query),
                    {k.lower(): v for k, v in self.headers.items()},  # header names are case-insensitive
                    self.rfile.read(length),
                )
                server.requests.append(recorded)
                upgrade = server.websocket_routes.get(parsed.path)
                if upgrade and self.headers.get("Upgrade", "").lower() == "websocket":
                    self.close_connection = True
                    with contextlib.suppress(OSError):  # the client went away
                        upgrade(self, recorded)
                    return
                handler = server.routes.get((self.command, parsed.path)) or server.routes.get(
                    (self.command, parsed.path.rsplit("/", 1)[0] + "/*")
                )
                if handler is None:
                    status, headers, body = 404, {"Content-Type": "application/json"}, {"error": "not found"}
                else:
                    status, headers, body = handler(recorded)
                if isinstance(body, (dict, list)):
                    body = json.dumps(body)
                    headers = {"Content-Type": "application/json", **headers}
                if isinstance(body, str):
                    body = body.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in body:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client stopped reading (a cancelled stream)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.httpd = QuietServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def route(self, method, path):
        def register(handler):
            self.routes[(method, path)] = handler
            return handler

        return register

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
