import itertools

import pytest

from tests.factories import cast, make_chapter, make_character, make_story
from tests.llm_servers import serve_ollama

SENTENCES = [
    "Mara climbed the lighthouse stairs with the lantern swinging in her hand.",
    "Below her the harbour lay black and still, the boats tied two by two.",
    "She counted the steps as her grandmother had taught her, one for every ship lost.",
    "At the top the old lamp waited, cold, its brass gone green with salt.",
    "Tomas had said the lamp could not be lit again, and Tomas was usually right.",
    "She struck the match anyway and watched the wick drink the flame.",
    "Far out on the water, something answered with a light of its own.",
    "It blinked twice, then once, the old signal for a ship in need of a pilot.",
]


def prose(words: int) -> str:
    """Distinct sentences (so the repetition check passes) adding up to about `words` words."""
    out, cycle = [], itertools.cycle(enumerate(SENTENCES))
    while sum(len(s.split()) for s in out) < words:
        index, sentence = next(cycle)
        out.append(sentence if len(out) < len(SENTENCES) else f"{sentence[:-1]}, again and again ({len(out)}).")
    return " ".join(out)


@pytest.fixture
def fake_ollama(local_server, settings, redis_conn):
    """A local Ollama server answering with good prose; tests may swap `reply` for another behaviour."""
    state = {"reply": lambda body: prose(120)}
    serve_ollama(local_server, reply=lambda body: state["reply"](body))
    settings.LLM_PROVIDER = "ollama"
    settings.OLLAMA_HOSTS = [local_server.url]
    settings.GENERATION_SLOTS = 1
    settings.LLM_RETRIES = 0
    local_server.state = state
    return local_server


@pytest.fixture
def story_with_cast(user):
    story = make_story(
        user,
        title="The Keeper",
        premise="A lighthouse keeper relights a lamp.",
        generation_settings={"target_words": 100},
    )
    chapter = make_chapter(
        story, title="The Stairs", content="The ship docked at dawn.\n\nMara watched it from the rocks."
    )
    mara = make_character(user, name="Mara", appearance="Grey eyes, salt-white hair.", speech_pattern="Short, dry.")
    cast(story, mara, role="protagonist", importance=9)
    return story, chapter
