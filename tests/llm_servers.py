"""Local servers that speak the Ollama and OpenAI chat APIs, for tests and benchmarks.

`reply(body) -> str` decides the answer from the request body, so a test can be deterministic about what the
"model" says; tokens stream one word at a time, `token_delay` seconds apart.
"""

import json
import re
import time
from datetime import UTC, datetime

TOKEN_RE = re.compile(r"\S+\s*|\s+")


def words(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def _prompt_tokens(messages) -> int:
    return sum(len(m.get("content", "").split()) + 4 for m in messages)


def serve_ollama(server, *, models=("llama3.1",), reply=lambda body: "Hello from the test model.", token_delay=0.0):
    """Teach `server` (tests.httpserver.LocalServer) POST /api/chat, GET /api/tags and GET /api/version."""

    def now():
        return datetime.now(UTC).isoformat().replace("+00:00", "Z")

    @server.route("POST", "/api/chat")
    def chat(request):
        body = request.json()
        model = body.get("model")
        if model not in models:
            return 404, {}, {"error": f'model "{model}" not found, try pulling it first'}
        tokens = words(reply(body))
        final = {
            "model": model,
            "created_at": now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": 1000,
            "prompt_eval_count": _prompt_tokens(body["messages"]),
            "eval_count": len(tokens),
        }
        if not body.get("stream", True):
            final["message"]["content"] = "".join(tokens)
            return 200, {}, final

        def lines():
            for token in tokens:
                if token_delay:
                    time.sleep(token_delay)
                part = {"model": model, "created_at": now(), "message": {"role": "assistant", "content": token}}
                yield (json.dumps({**part, "done": False}) + "\n").encode()
            yield (json.dumps(final) + "\n").encode()

        return 200, {"Content-Type": "application/x-ndjson"}, lines()

    @server.route("GET", "/api/tags")
    def tags(request):
        return 200, {}, {"models": [{"name": m, "model": m, "size": 1} for m in models]}

    @server.route("GET", "/api/version")
    def version(request):
        return 200, {}, {"version": "0.5.7"}

    return server


def serve_openai(server, *, models=("test-model",), reply=lambda body: "Hello from the test model.", token_delay=0.0):
    """Teach `server` POST /v1/chat/completions (JSON and server-sent events) and GET /v1/models."""

    @server.route("POST", "/v1/chat/completions")
    def completions(request):
        body = request.json()
        model = body.get("model")
        if model not in models:
            return (
                404,
                {},
                {
                    "error": {
                        "message": f"The model `{model}` does not exist or you do not have access to it.",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
            )
        tokens = words(reply(body))
        usage = {
            "prompt_tokens": _prompt_tokens(body["messages"]),
            "completion_tokens": len(tokens),
            "total_tokens": _prompt_tokens(body["messages"]) + len(tokens),
        }
        base = {"id": "chatcmpl-test", "created": int(time.time()), "model": model}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(tokens)}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return 200, {}, {**base, "object": "chat.completion", "choices": [choice], "usage": usage}

        def event(**fields) -> bytes:
            return f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', **fields})}\n\n".encode()

        def events():
            for index, token in enumerate(tokens):
                if token_delay:
                    time.sleep(token_delay)
                delta = {"role": "assistant", "content": token} if index == 0 else {"content": token}
                yield event(choices=[{"index": 0, "delta": delta, "finish_reason": None}])
            yield event(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
            if (body.get("stream_options") or {}).get("include_usage"):
                yield event(choices=[], usage=usage)
            yield b"data: [DONE]\n\n"

        return 200, {"Content-Type": "text/event-stream"}, events()

    @server.route("GET", "/v1/models")
    def list_models(request):
        return 200, {}, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "test"} for m in models]}

    return server
