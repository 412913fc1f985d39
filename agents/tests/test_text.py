"""Work on a writer's text stays linear: a 500,000-character chapter (the size limit) with no full stop at all is
split, checked and summarised as fast as ordinary prose."""

import json
import time

import pytest

from agents.checks.text import first_sentences, sentences
from agents.memory import continuity
from agents.memory import store as memory
from agents.team import quality_assurance
from stories.models import CHAPTER_MAX_CHARS
from tests.factories import make_chapter, make_story, make_user
from tests.llm_servers import serve_ollama

RUN_ON = ("and the tide came in " * (CHAPTER_MAX_CHARS // 21 + 1))[:CHAPTER_MAX_CHARS]


def timed(work):
    started = time.process_time()
    result = work()
    return result, time.process_time() - started


def test_sentences_keep_their_offsets_punctuation_and_closing_quotes():
    text = 'She ran. "Who is there?" he called…  No answer\nat all'
    assert sentences(text) == [(0, "She ran."), (9, '"Who is there?"'), (25, "he called…"), (37, "No answer\nat all")]
    assert all(text[offset : offset + len(sentence)] == sentence for offset, sentence in sentences(text))
    assert first_sentences(text, 2) == ["She ran.", '"Who is there?"']


def test_a_run_on_chapter_splits_in_linear_time_into_bounded_sentences():
    found, seconds = timed(lambda: sentences(RUN_ON))
    assert seconds < 1.0  # before: a pattern that needed a full stop took 1.3 s at 20,000 characters, minutes here
    assert "".join(s for _, s in found).replace(" ", "") == RUN_ON.replace(" ", "")
    assert max(len(s) for _, s in found) <= 1000


def test_quality_checks_and_passages_on_a_run_on_chapter_are_fast():
    findings, seconds = timed(lambda: quality_assurance.repetition_findings(RUN_ON))
    assert seconds < 2.0 and findings  # the same words over and over are reported, quickly
    passages, seconds = timed(lambda: memory.chunk_passages(RUN_ON))
    assert seconds < 2.0 and passages


@pytest.mark.django_db
def test_continuity_notes_of_a_run_on_chapter_fall_back_quickly(local_server, settings, redis_conn):
    serve_ollama(local_server, reply=lambda body: "I cannot summarise this.")  # no usable JSON: the fallback
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", [local_server.url], 0
    chapter = make_chapter(make_story(make_user()), content=RUN_ON)
    stored, seconds = timed(lambda: continuity.extract(chapter))
    assert seconds < 10.0
    assert stored["summary"].startswith("and the tide came in") and len(stored["summary"]) <= 500
    prompt = json.loads(local_server.requests[0].body)["messages"][0]["content"]
    assert len(prompt) < CHAPTER_MAX_CHARS  # trimmed to the model's window, not sent whole
