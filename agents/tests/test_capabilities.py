"""What a model is trusted with (agents/services/capabilities.py): the built-in model's profile, what the site
declares, what the self-test measures through the real ollama client against local servers, and the sampling that
keeps the built-in model from looping, with the real model."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from agents.models import ModelProfile
from agents.services import capabilities, llm
from agents.services.providers import NgramBlocker
from agents.team.quality_assurance import repetition_findings
from storyassistant.settings import model_profiles
from tests.llm_servers import serve_ollama

pytestmark = pytest.mark.django_db

CASES = capabilities.self_test_cases()


def right_answer(body) -> str:
    """A capable model: the answer each question expects (and a line of prose to anything else)."""
    case = next((c for c in CASES if c["prompt"] == body["messages"][-1]["content"]), None)
    return json.dumps({case["field"]: case["expected"]}) if case else "The tide came in."


def invented_answer(body) -> str:
    """What a tiny model does: valid JSON with the same made-up facts, whatever was asked."""
    return json.dumps({"dead": ["Mara"], "contradicts": True, "town": ["Saltmere"]})


@pytest.fixture
def two_models(local_server, settings, redis_conn):
    serve_ollama(local_server, models=("sage", "parrot"),
                 reply=lambda body: (right_answer if body["model"] == "sage" else invented_answer)(body))  # fmt: skip
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", [local_server.url], 0
    return local_server


def test_the_built_in_model_is_planned_for_as_it_is():
    profile = llm.resolve("embedded").profile
    assert profile is capabilities.BUILT_IN and not profile.judges and not profile.rewrites
    assert profile.draft_words and profile.prose_sampling["no_repeat_ngram"]
    assert "drafts of up to 400 words" in profile.limits() and "rules and grammar only" in profile.limits()


def test_the_self_test_tells_a_capable_model_from_one_that_invents(two_models):
    assert llm.resolve("sage").profile.source == "not measured: treated as capable"

    sage = llm.measure("sage")
    assert (sage.capable, sage.passed, sage.asked) == (True, len(CASES), len(CASES))
    asked = [r.json() for r in two_models.requests if r.path == "/api/chat"]
    assert len(asked) == len(CASES) and all(b["format"] and b["options"]["temperature"] == 0 for b in asked)

    parrot = llm.measure("parrot")
    # It gets right only what its invention happens to match: the contradiction that is one.
    assert not parrot.capable and parrot.passed == 1
    assert [a["name"] for a in parrot.answers if a["right"]] == ["a contradiction"]

    assert llm.resolve("sage").profile.judges and llm.resolve("sage").profile.source.startswith("self-test")
    weak = llm.resolve("parrot").profile
    assert weak.kind == "small" and not weak.judges and not weak.rewrites and "1 of 5 right" in weak.source
    assert "the small model parrot" in weak.limits()

    again = llm.measure("parrot")  # a new test replaces the old result
    assert ModelProfile.objects.filter(model="parrot").count() == 1 and again.passed == 1


def test_what_the_site_declares_wins_over_a_measurement(two_models, settings):
    llm.measure("sage")
    settings.LLM_MODEL_PROFILES = {"sage": "small", "parrot": "capable"}
    assert llm.resolve("sage").profile.kind == "small"
    assert llm.resolve("sage").profile.source == "declared small in LLM_MODEL_PROFILES"
    assert llm.resolve("parrot").profile.judges


def test_the_built_in_model_is_not_measured():
    with pytest.raises(llm.LLMError, match="not measured"):
        llm.measure("embedded")


def test_declarations_are_read_strictly():
    assert model_profiles(" llama3.2:1b=small , qwen2.5:14b=capable,") == {
        "llama3.2:1b": "small",
        "qwen2.5:14b": "capable",
    }
    for wrong in ("llama3.2:1b", "llama=tiny", "=small"):
        with pytest.raises(ImproperlyConfigured, match="LLM_MODEL_PROFILES"):
            model_profiles(wrong)


def test_prose_sampling_goes_to_the_server_and_never_to_json_answers(two_models, settings):
    settings.LLM_MODEL_PROFILES = {"sage": "small"}
    llm.generate([{"role": "user", "content": "Write."}], model="sage", prose=True, cache=False)
    llm.generate([{"role": "user", "content": "Answer in JSON."}], model="sage", cache=False)
    prose, answer = [r.json()["options"] for r in two_models.requests if r.path == "/api/chat"]
    assert prose["repeat_penalty"] == 1.1 and "repeat_penalty" not in answer


@given(st.lists(st.integers(0, 5), max_size=40), st.integers(2, 5))
def test_the_blocker_forbids_exactly_the_tokens_that_would_repeat_a_run(tokens, n):
    import numpy as np

    blocker = NgramBlocker(n)
    for end in range(len(tokens) + 1):  # called once a step, as llama.cpp does, with everything so far
        ids = np.array(tokens[:end], dtype=np.intc)
        scores = blocker(ids, np.zeros(6, dtype=np.single))
        blocked = {t for t in range(6) if scores[t] == -np.inf}
        seen = {tuple(tokens[i : i + n]) for i in range(end - n + 1)}
        expected = {t for t in range(6) if end >= n - 1 and (*tokens[end - n + 1 : end], t) in seen}
        assert blocked == expected


def test_the_built_in_model_stops_looping_with_its_prose_sampling():
    """The real SmolLM2, greedy, on a prompt it loops on: with the profile's sampling no sentence comes back."""
    prompt = [
        {"role": "system", "content": "You are a novelist."},
        {"role": "user", "content": "Continue the story. Mara walked to the lighthouse. The lamp was dark. "
                                    "She climbed the stairs."},
    ]  # fmt: skip
    plain = llm.generate(prompt, model="embedded", temperature=0, max_tokens=400, cache=False).text
    assert repetition_findings(plain)  # what a writer got before
    sampled = llm.generate(prompt, model="embedded", temperature=0, max_tokens=400, cache=False, prose=True).text
    assert len(sampled.split()) > 150 and not repetition_findings(sampled)
