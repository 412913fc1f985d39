"""Right after a first `make run` the built-in model's engine is still compiling: the workspace works, pages and
queued requests say how long the model needs, and AI requests wait for it instead of failing."""

import json
import time

import pytest

from agents.services import engine, llm
from agents.services.providers import EmbeddedProvider, LLMUnavailable
from generation.dispatch import dispatch
from generation.models import GenerationTask
from tests.factories import make_chapter, make_story

pytestmark = pytest.mark.django_db


@pytest.fixture
def building(settings, tmp_path, monkeypatch):
    """The engine not installed yet, its build started a minute ago and expected to take seven."""
    settings.VAR_DIR = tmp_path
    settings.LLM_PROVIDER = "embedded"
    status = {"state": "building", "started": time.time() - 60, "expected_seconds": 420}
    (tmp_path / "llama-build.json").write_text(json.dumps(status))
    state = {"installed": False}
    monkeypatch.setattr(engine, "installed", lambda: state["installed"])
    return state


def test_pages_say_the_model_is_being_prepared_and_for_how_long(building, writer_client, client):
    page = writer_client.get("/").content.decode()
    assert "The built-in model is being prepared: about 6 minutes." in page
    assert "data-model-preparing" not in client.get("/accounts/login/").content.decode()  # signed-out pages
    building["installed"] = True
    assert "data-model-preparing" not in writer_client.get("/").content.decode()


def test_requests_wait_for_the_model_and_start_once_it_is_ready(building, user, redis_conn, monkeypatch):
    monkeypatch.setattr(EmbeddedProvider, "_llama", None)
    chapter = make_chapter(make_story(user))
    task = GenerationTask.objects.create(user=user, story=chapter.story, chapter=chapter, mode="next_chapter")
    assert dispatch() == []  # held, not failed
    with pytest.raises(LLMUnavailable, match="being prepared"):
        EmbeddedProvider.llama()
    from generation.live import panel_context

    assert "about 6 minutes" in panel_context(task)["preparing"].message
    building["installed"] = True
    assert [t.pk for t in dispatch()] == [task.pk]


def test_a_failed_build_says_how_to_try_again(building, settings):
    (settings.VAR_DIR / "llama-build.json").write_text(json.dumps({"state": "failed", "log": "var/llama-build.log"}))
    waiting = llm.builtin_preparing()
    assert waiting.state == "failed" and "scripts/build-llama" in waiting.message
    assert "var/llama-build.log" in waiting.message
    settings.LLM_PROVIDER = "ollama"  # a model server: nothing to wait for
    assert llm.builtin_preparing() is None


def test_the_engine_is_found_when_it_appears_without_a_restart(monkeypatch):
    monkeypatch.setattr(engine, "_state", {"installed": False, "checked": 0.0})
    assert engine.installed()  # this environment has it: found, and remembered
    assert engine._state["installed"]
