"""Fixtures for the end-to-end tests: a slow local Ollama, the worker environment that uses it, a writer's story."""

import pytest

from tests.factories import cast, make_chapter, make_character, make_story, make_user
from tests.httpserver import LocalServer
from tests.llm_servers import serve_ollama

PROSE = (
    "Mara climbed the lighthouse stairs with the lantern swinging in her hand. Below her the harbour lay black "
    "and still, the boats tied two by two. She counted the steps as her grandmother had taught her, one for every "
    "ship lost. At the top the old lamp waited, cold, its brass gone green with salt. She struck the match anyway."
)


@pytest.fixture
def slow_ollama():
    server = serve_ollama(LocalServer(), reply=lambda body: PROSE, token_delay=0.02)
    yield server
    server.close()


@pytest.fixture
def worker_env(slow_ollama):
    return {"LLM_PROVIDER": "ollama", "OLLAMA_HOST": slow_ollama.url, "GENERATION_SLOTS": "1", "LLM_RETRIES": "0"}


@pytest.fixture
def writer_story():
    writer = make_user()
    # The test model writes British English ("harbour"), so the story is set to it.
    story = make_story(writer, title="The Keeper", generation_settings={"target_words": 100, "dialect": "en-GB"})
    chapter = make_chapter(story, title="Stairs", content="The ship docked at dawn.")
    cast(story, make_character(writer, name="Mara", appearance="Grey eyes."), role="protagonist", importance=9)
    return writer, story, chapter
