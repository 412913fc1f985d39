"""The only code that talks to language models.

    result = generate(messages, story=story, temperature=0.7, max_tokens=800)
    for token in (s := stream(messages, story=story)): ...;  s.result, s.cancel()

Both pick the provider and model from settings (a story may choose its own model), keep the request inside the
model's context window (reporting what was trimmed), spread requests over the configured endpoints and skip dead
ones, retry connection failures with backoff, and cache deterministic requests in Redis.
"""

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property

from django.conf import settings
from django.core.cache import cache as django_cache

from agents.services import capabilities, engine
from agents.services.providers import (
    EmbeddedProvider,
    LLMBadResponse,
    LLMError,
    LLMModelMissing,
    LLMTimeout,
    LLMUnavailable,
    OllamaProvider,
    OpenAIProvider,
    Provider,
)

__all__ = [
    "LLMBadResponse", "LLMError", "LLMModelMissing", "LLMResult", "LLMStream", "LLMTimeout", "LLMUnavailable",
    "fit_to_context", "generate", "resolve", "stream",
]  # fmt: skip

MESSAGE_OVERHEAD_TOKENS = 4  # role markers and separators each chat template adds per message
TRIM_MARK = "[…] "


@dataclass
class LLMResult:
    text: str = ""
    model: str = ""
    provider: str = ""
    endpoint: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: int = 0
    cached: bool = False
    cancelled: bool = False
    trimmed: list[str] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Target:
    provider: Provider
    model: str

    @property
    def built_in(self) -> bool:
        """The small embedded model: it writes, but cannot judge or extract facts."""
        return isinstance(self.provider, EmbeddedProvider)

    @cached_property
    def profile(self) -> capabilities.Profile:
        """What the model can be trusted with: the director plans by it."""
        return capabilities.profile(self)


class EndpointPool:
    """Round-robin over a provider's endpoints; one that failed is tried last until its cooldown passes."""

    def __init__(self):
        self._counter = itertools.count()
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def order(self, endpoints: list[str]) -> list[str]:
        start = next(self._counter) % len(endpoints)
        rotated = endpoints[start:] + endpoints[:start]
        now = time.monotonic()
        with self._lock:
            healthy = [e for e in rotated if self._down_until.get(e, 0) <= now]
        return healthy + [e for e in rotated if e not in healthy]

    def mark_down(self, endpoint: str):
        with self._lock:
            self._down_until[endpoint] = time.monotonic() + settings.LLM_ENDPOINT_COOLDOWN

    def mark_up(self, endpoint: str):
        with self._lock:
            self._down_until.pop(endpoint, None)


POOL = EndpointPool()
_EMBEDDED = EmbeddedProvider()


def default_provider() -> Provider:
    choice = settings.LLM_PROVIDER or (
        "ollama" if settings.OLLAMA_HOSTS else "openai" if settings.OPENAI_BASE_URLS else "embedded"
    )
    if choice == "ollama":
        return OllamaProvider(settings.OLLAMA_HOSTS or ["http://127.0.0.1:11434"])
    if choice == "openai":
        return OpenAIProvider(settings.OPENAI_BASE_URLS or ["http://127.0.0.1:8080/v1"])
    if choice == "embedded":
        return _EMBEDDED
    raise LLMError(f"Unknown LLM_PROVIDER “{choice}”.", hint="Use ollama, openai or embedded.")


def builtin_preparing():
    """What the site's model is waiting for, when it is the built-in one and its engine is still being built
    (engine.Preparing); None when generation can run."""
    # Every page asks: the remembered engine check first, before a provider is made.
    if engine.installed() or not isinstance(default_provider(), EmbeddedProvider):
        return None
    return engine.preparing()


def resolve(model: str | None = None, story=None) -> Target:
    """The provider and model for a request: an explicit model, else the story's (if the site still offers it,
    LLM_STORY_MODELS), else the site default. The model name "embedded" always means the built-in SmolLM2."""
    if not model and story is not None and story.settings.model in settings.LLM_STORY_MODELS:
        model = story.settings.model  # a name no longer offered falls back to the site default
    model = model or ""
    if model == "embedded":
        return Target(_EMBEDDED, _EMBEDDED.default_model)
    provider = default_provider()
    return Target(provider, model or provider.default_model)


def _message_tokens(provider: Provider, message: dict) -> int:
    return provider.count_tokens(message["content"]) + MESSAGE_OVERHEAD_TOKENS


def fit_to_context(messages: list[dict], target: Target, reserve: int) -> tuple[list[dict], list[str]]:
    """Messages that fit the model's window with `reserve` tokens left for the answer, and what was trimmed.

    Oldest conversation turns go first (the system message and the latest message stay); if that is not
    enough, the longest remaining message loses its beginning, since the end is what the model continues from.
    """
    provider, window = target.provider, target.provider.context_window(target.model)
    budget = window - reserve
    if budget <= MESSAGE_OVERHEAD_TOKENS * len(messages[-1:]) + 16:
        raise LLMError(f"max_tokens ({reserve}) leaves no room for the prompt in a {window}-token context.")
    messages = [dict(m) for m in messages]
    sizes = [_message_tokens(provider, m) for m in messages]
    trimmed = []
    droppable = [i for i, m in enumerate(messages[:-1]) if m["role"] != "system"]
    while sum(sizes) > budget and droppable:
        index = droppable.pop(0)
        trimmed.append(f"dropped an earlier {messages[index]['role']} message ({sizes[index]} tokens)")
        sizes[index] = 0
        messages[index] = None
    keep = [(m, s) for m, s in zip(messages, sizes, strict=True) if m is not None]
    messages, sizes = [m for m, _ in keep], [s for _, s in keep]
    while sum(sizes) > budget:
        index = max(range(len(messages)), key=lambda i: sizes[i])
        excess = sum(sizes) - budget
        content = messages[index]["content"]
        # Cut by characters in proportion, then re-measure; a couple of rounds converge.
        cut = max(1, int(len(content) * min(1.0, (excess + 8) / max(sizes[index], 1))))
        if cut >= len(content):
            raise LLMError(f"The prompt cannot fit a {window}-token context even after trimming.")
        messages[index] = {**messages[index], "content": TRIM_MARK + content[cut:]}
        before, sizes[index] = sizes[index], _message_tokens(provider, messages[index])
        trimmed.append(
            f"trimmed {before - sizes[index]} tokens from the start of the {messages[index]['role']} message"
        )
    return messages, trimmed


def _options(options: dict) -> dict:
    options = {k: v for k, v in options.items() if v is not None}
    options.setdefault("max_tokens", settings.LLM_MAX_TOKENS)
    return options


def _cache_key(target: Target, messages: list[dict], options: dict) -> str:
    payload = json.dumps(
        {"provider": target.provider.name, "model": target.model, "messages": messages, "options": options},
        sort_keys=True,
        ensure_ascii=False,
    )
    return "llm:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _should_cache(cache: bool | None, options: dict) -> bool:
    if settings.LLM_CACHE_TTL <= 0:  # the cache is off
        return False
    return cache if cache is not None else options.get("temperature") == 0


def _attempts(target: Target):
    """Endpoints to try in order: every endpoint once a round, LLM_RETRIES extra rounds with backoff between."""
    for round_number in range(settings.LLM_RETRIES + 1):
        if round_number:
            time.sleep(min(0.5 * 2 ** (round_number - 1), 8))
        yield from POOL.order(target.provider.endpoints)


def probe(model: str | None = None) -> str:
    """One small real call to a model (for the staff's services page): what it answered, and how fast."""
    started = time.monotonic()
    result = generate([{"role": "user", "content": "Reply with the word OK."}], model=model, cache=False,
                      temperature=0, max_tokens=8)  # fmt: skip
    answer = " ".join(result.text.split())[:80]
    return f"{result.provider} {result.model} answered “{answer}” in {1000 * (time.monotonic() - started):.0f} ms"


def measure(model: str | None = None) -> "capabilities.ModelProfile":
    """Ask a configured model the self-test's questions (structured answers, temperature 0) and keep what it got
    right (agents/services/capabilities.py): it is capable only with every answer right."""
    target = resolve(model)
    if target.built_in:
        raise LLMError("The built-in model is not measured: it is always planned for as the built-in model.")
    answers = []
    for case in capabilities.self_test_cases():
        result = generate([{"role": "user", "content": case["prompt"]}], model=model, schema=case["schema"],
                          temperature=0, max_tokens=80, cache=False)  # fmt: skip
        answers.append(
            {"name": case["name"], "answer": result.text[:200], "right": capabilities.passes(case, result.text)}
        )
    return capabilities.record(target, answers)


def generate(messages: list[dict], *, model=None, story=None, cache: bool | None = None, **options) -> LLMResult:
    """One complete answer. Raises an LLMError subclass (with a hint) when no endpoint could answer. With
    `schema=` (a JSON schema) the provider constrains the answer to it (structured output)."""
    llm_stream = stream(messages, model=model, story=story, cache=cache, **options)
    for _ in llm_stream:
        pass
    return llm_stream.result


def stream(
    messages: list[dict],
    *,
    model=None,
    story=None,
    cache: bool | None = None,
    should_cancel: Callable[[], bool] | None = None,
    prose: bool = False,
    **options,
) -> "LLMStream":
    """Tokens as they arrive; `.result` is filled in when the stream ends, `.cancel()` stops it early. `prose=True`
    adds the sampling that keeps the model from looping in prose (its profile's; never for JSON answers)."""
    target = resolve(model, story)
    options = _options({**(target.profile.prose_sampling if prose else {}), **options})
    fitted, trimmed = fit_to_context(messages, target, options["max_tokens"])
    return LLMStream(target, fitted, options, trimmed, _should_cache(cache, options), should_cancel)


class LLMStream:
    def __init__(self, target, messages, options, trimmed, use_cache, should_cancel):
        self.target, self.messages, self.options = target, messages, options
        self.use_cache, self.should_cancel = use_cache, should_cancel or (lambda: False)
        self.result = LLMResult(model=target.model, provider=target.provider.name, trimmed=trimmed)
        self._cancelled = False

    def cancel(self):
        self._cancelled = True

    def __iter__(self) -> Iterator[str]:
        started = time.monotonic()
        try:
            yield from self._run()
        finally:
            self.result.duration_ms = int((time.monotonic() - started) * 1000)

    def _run(self) -> Iterator[str]:
        key = _cache_key(self.target, self.messages, self.options) if self.use_cache else None
        if key and (hit := django_cache.get(key)):
            self.result.__dict__.update(hit, cached=True, trimmed=self.result.trimmed)
            yield hit["text"]
            return
        last_error = None
        for endpoint in _attempts(self.target):
            received = []
            try:
                for chunk in self.target.provider.chat_stream(endpoint, self.target.model, self.messages, self.options):
                    if chunk.prompt_tokens is not None:
                        self.result.prompt_tokens = chunk.prompt_tokens
                    if chunk.completion_tokens is not None:
                        self.result.completion_tokens = chunk.completion_tokens
                    if chunk.text:
                        received.append(chunk.text)
                        self.result.text += chunk.text
                        yield chunk.text
                    if self._cancelled or self.should_cancel():
                        self.result.cancelled = True
                        break
            except LLMUnavailable as exc:
                POOL.mark_down(endpoint)
                last_error = exc
                if received:  # tokens already went out; starting over elsewhere would repeat them
                    self.result.error = str(exc)
                    raise
                continue
            except LLMError as exc:
                self.result.error = str(exc)
                raise
            POOL.mark_up(endpoint)
            self.result.endpoint = endpoint
            if not self.result.completion_tokens:
                self.result.completion_tokens = self.target.provider.count_tokens(self.result.text)
            if key and not self.result.cancelled:
                django_cache.set(key, self.result.as_dict(), timeout=settings.LLM_CACHE_TTL)
            return
        self.result.error = str(last_error)
        endpoints = len(self.target.provider.endpoints)
        raise LLMUnavailable(
            f"{last_error.message if last_error else 'No endpoint answered.'} "
            f"(tried {endpoints} endpoint{'s' if endpoints != 1 else ''}, {settings.LLM_RETRIES + 1} times each)",
            hint=last_error.hint if last_error else "",
        ) from last_error
