"""agents/services/llm.py through the real ollama and openai clients, against local servers speaking their APIs."""

import socket
import time

import pytest

from agents.services import llm, providers
from storyassistant.settings import embedded_llm_threads
from tests.factories import make_story, make_user
from tests.httpserver import LocalServer
from tests.llm_servers import serve_ollama, serve_openai

HELLO = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}]


@pytest.fixture(autouse=True)
def fresh_pool(monkeypatch, settings, redis_conn):
    monkeypatch.setattr(llm, "POOL", llm.EndpointPool())
    settings.LLM_RETRIES = 1
    settings.LLM_TIMEOUT = 3
    settings.LLM_ENDPOINT_COOLDOWN = 30


@pytest.fixture
def ollama(local_server, settings):
    serve_ollama(local_server, models=("llama3.1", "qwen2.5"), reply=lambda body: "Hello, traveller. Welcome home.")
    settings.LLM_PROVIDER = "ollama"
    settings.OLLAMA_HOSTS = [local_server.url]
    return local_server


def dead_url() -> str:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def chat_requests(server):
    return [r for r in server.requests if r.path in ("/api/chat", "/v1/chat/completions")]


def test_ollama_generate_returns_text_tokens_and_timing(ollama):
    result = llm.generate(HELLO, temperature=0.2, max_tokens=50)
    assert result.text == "Hello, traveller. Welcome home."
    assert (result.provider, result.model, result.endpoint) == ("ollama", "llama3.1", ollama.url)
    assert result.completion_tokens == 4 and result.prompt_tokens > 0
    assert result.duration_ms >= 0 and not result.cached and result.error == ""
    sent = chat_requests(ollama)[0].json()
    assert sent["messages"] == HELLO
    assert sent["options"]["num_predict"] == 50 and sent["options"]["temperature"] == 0.2
    assert sent["options"]["num_ctx"] == 8192


def test_ollama_stream_yields_tokens_in_order(ollama):
    stream = llm.stream(HELLO)
    assert list(stream) == ["Hello, ", "traveller. ", "Welcome ", "home."]
    assert stream.result.text == "Hello, traveller. Welcome home."


def test_a_missing_model_names_the_fix(ollama):
    with pytest.raises(llm.LLMModelMissing) as error:
        llm.generate(HELLO, model="llama3.2")
    assert "ollama pull llama3.2" in str(error.value)
    assert len(chat_requests(ollama)) == 1  # not retried: retrying cannot conjure a model


@pytest.mark.django_db
def test_a_story_can_choose_a_model_the_site_offers(ollama, settings):
    settings.LLM_STORY_MODELS = ["qwen2.5", "embedded"]
    story = make_story(make_user(), generation_settings={"model": "qwen2.5"})
    assert llm.generate(HELLO, story=story).model == "qwen2.5"
    assert chat_requests(ollama)[0].json()["model"] == "qwen2.5"


@pytest.mark.django_db
def test_a_model_the_site_no_longer_offers_falls_back_to_the_default(ollama, settings):
    settings.LLM_STORY_MODELS = ["embedded"]
    story = make_story(make_user(), generation_settings={"model": "gpt-the-most-expensive"})
    assert llm.generate(HELLO, story=story).model == "llama3.1"
    assert chat_requests(ollama)[0].json()["model"] == "llama3.1"


def test_a_server_that_is_down_gives_a_clear_error_after_bounded_retries(settings):
    settings.LLM_PROVIDER = "ollama"
    settings.OLLAMA_HOSTS = [dead_url().replace("http://", "http://writer:s3cret@")]
    started = time.monotonic()
    with pytest.raises(llm.LLMUnavailable) as error:
        llm.generate(HELLO)
    assert "ollama serve" in str(error.value)
    assert "Cannot reach Ollama at http://127.0.0.1" in str(error.value) and "s3cret" not in str(error.value)
    assert time.monotonic() - started < 5


def test_a_slow_server_times_out(local_server, settings):
    serve_ollama(local_server, reply=lambda body: "Too late.", token_delay=5)
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_TIMEOUT = "ollama", [local_server.url], 1
    with pytest.raises(llm.LLMTimeout, match="longer than 1s"):
        llm.generate(HELLO)


def test_garbage_from_the_server_is_a_bad_response(local_server, settings):
    local_server.routes[("POST", "/api/chat")] = lambda r: (200, {"Content-Type": "application/x-ndjson"}, "<html>")
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS = "ollama", [local_server.url]
    with pytest.raises(llm.LLMBadResponse):
        llm.generate(HELLO)


def test_requests_spread_over_endpoints_and_skip_a_dead_one(ollama, settings):
    second = serve_ollama(LocalServer(), reply=lambda body: "From the second.")
    try:
        dead = dead_url()
        settings.OLLAMA_HOSTS = [ollama.url, dead, second.url]
        served = [llm.generate(HELLO).endpoint for _ in range(6)]
        assert set(served) == {ollama.url, second.url}
        assert dead not in served
        assert served.count(ollama.url) >= 2 and served.count(second.url) >= 2
        assert llm.POOL.order([dead, ollama.url])[-1] == dead  # skipped while cooling down
    finally:
        second.close()


def test_deterministic_requests_are_cached(ollama):
    first = llm.generate(HELLO, temperature=0)
    again = llm.generate(HELLO, temperature=0)
    assert again.cached and again.text == first.text
    assert len(chat_requests(ollama)) == 1
    llm.generate(HELLO, temperature=0.8)
    llm.generate(HELLO, temperature=0.8)
    assert len(chat_requests(ollama)) == 3
    llm.generate(HELLO, temperature=0.8, cache=True)
    assert llm.generate(HELLO, temperature=0.8, cache=True).cached


def test_a_cache_lifetime_of_zero_turns_the_cache_off(ollama, settings):
    llm.generate(HELLO, temperature=0)
    settings.LLM_CACHE_TTL = 0
    assert not llm.generate(HELLO, temperature=0).cached
    assert not llm.generate(HELLO, temperature=0, cache=True).cached
    assert len(chat_requests(ollama)) == 3


def test_cancelling_a_stream_stops_it(local_server, settings):
    serve_ollama(local_server, reply=lambda body: "one two three four five six seven eight", token_delay=0.05)
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS = "ollama", [local_server.url]
    stream = llm.stream(HELLO)
    received = []
    for token in stream:
        received.append(token)
        if len(received) == 2:
            stream.cancel()
    assert received == ["one ", "two "]
    assert stream.result.cancelled


def test_should_cancel_is_checked_between_tokens(ollama):
    calls = []
    stream = llm.stream(HELLO, should_cancel=lambda: len(calls) >= 1 or bool(calls.append(1)))
    assert list(stream) == ["Hello, ", "traveller. "]
    assert stream.result.cancelled


def test_prompts_are_trimmed_to_the_context_window_and_the_trim_is_reported(ollama, settings):
    settings.OLLAMA_NUM_CTX = 600
    history = [{"role": "user" if i % 2 else "assistant", "content": f"Turn {i}. " + "words " * 120} for i in range(8)]
    messages = [{"role": "system", "content": "Stay in character."}, *history, {"role": "user", "content": "Go on."}]
    result = llm.generate(messages, max_tokens=200)
    sent = chat_requests(ollama)[0].json()["messages"]
    assert sent[0]["content"] == "Stay in character." and sent[-1]["content"] == "Go on."
    assert len(sent) < len(messages)
    assert result.trimmed and all("dropped an earlier" in t for t in result.trimmed)
    target = llm.resolve()
    assert sum(target.provider.count_tokens(m["content"]) + 4 for m in sent) <= 600 - 200


def test_one_huge_message_loses_its_beginning(ollama, settings):
    settings.OLLAMA_NUM_CTX = 500
    text = "START " + "filler " * 2000 + "THE END"
    result = llm.generate([{"role": "user", "content": text}], max_tokens=100)
    sent = chat_requests(ollama)[0].json()["messages"][0]["content"]
    assert sent.startswith(llm.TRIM_MARK) and sent.endswith("THE END") and "START" not in sent
    assert "trimmed" in result.trimmed[-1]


def test_max_tokens_larger_than_the_window_is_refused(ollama, settings):
    settings.OLLAMA_NUM_CTX = 500
    with pytest.raises(llm.LLMError, match="no room"):
        llm.generate(HELLO, max_tokens=600)
    assert chat_requests(ollama) == []


@pytest.fixture
def openai_server(local_server, settings):
    serve_openai(local_server, models=("test-model",), reply=lambda body: "Greetings from a compatible server.")
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URLS = [f"{local_server.url}/v1"]
    settings.OPENAI_MODEL = "test-model"
    return local_server


def test_openai_compatible_generate_and_stream(openai_server):
    result = llm.generate(HELLO, temperature=0.3, max_tokens=40)
    assert result.text == "Greetings from a compatible server."
    assert result.provider == "openai" and result.completion_tokens == 5 and result.prompt_tokens > 0
    sent = chat_requests(openai_server)[0]
    assert sent.headers["authorization"] == "Bearer not-needed"
    assert sent.json()["max_tokens"] == 40 and sent.json()["stream"] is True
    assert list(llm.stream(HELLO)) == ["Greetings ", "from ", "a ", "compatible ", "server."]


def test_openai_compatible_missing_model(openai_server):
    with pytest.raises(llm.LLMModelMissing, match="OPENAI_MODEL"):
        llm.generate(HELLO, model="gpt-nope")


def test_openai_compatible_server_down(settings):
    settings.LLM_PROVIDER, settings.OPENAI_BASE_URLS = "openai", [f"{dead_url()}/v1"]
    with pytest.raises(llm.LLMUnavailable):
        llm.generate(HELLO)


def test_nothing_configured_means_the_embedded_model(settings):
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.OPENAI_BASE_URLS = "", [], []
    assert llm.resolve().provider.name == "embedded"
    settings.OLLAMA_HOSTS = ["http://ollama:11434"]
    assert llm.resolve().provider.name == "ollama"
    assert llm.resolve("embedded").provider.name == "embedded"


@pytest.mark.django_db
def test_the_embedded_smollm2_model_writes_real_text(settings):
    settings.LLM_PROVIDER = "embedded"
    messages = [{"role": "user", "content": "Write one sentence about a lighthouse."}]
    result = llm.generate(messages, temperature=0, max_tokens=24)
    assert result.provider == "embedded" and result.model == "SmolLM2-135M-Instruct"
    assert len(result.text.split()) >= 3
    assert 0 < result.completion_tokens <= 24 and result.prompt_tokens > 0
    streamed = list(llm.stream(messages, temperature=0, max_tokens=24, cache=False))
    assert "".join(streamed) == result.text  # temperature 0 is deterministic
    model = providers.EmbeddedProvider.llama()  # the cores shared among the workers, reading and writing alike
    assert model.n_threads == model.n_threads_batch == settings.EMBEDDED_LLM_THREADS


def test_the_built_in_models_threads_share_the_cores_among_the_workers():
    assert embedded_llm_threads(0, workers=2, cores=2) == 1
    assert embedded_llm_threads(0, workers=2, cores=8) == 4
    assert embedded_llm_threads(0, workers=6, cores=4) == 1
    assert embedded_llm_threads(3, workers=2, cores=2) == 3  # what the operator set


def test_the_built_in_model_gives_a_new_draft_each_time_unless_asked_for_a_seed():
    """Each worker process would otherwise seed llama.cpp alike and give its n-th request the same draft."""
    ask = [{"role": "user", "content": "Write one sentence about the sea."}]
    drafts = {llm.generate(ask, model="embedded", temperature=0.9, max_tokens=30, cache=False).text for _ in range(3)}
    assert len(drafts) > 1
    seeded = {llm.generate(ask, model="embedded", temperature=0.9, max_tokens=30, seed=7, cache=False).text
              for _ in range(2)}  # fmt: skip
    assert len(seeded) == 1
