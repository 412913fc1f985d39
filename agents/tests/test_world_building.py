"""What a draft introduces: new people for the cast, places, objects, factions and lore for the world, each
classified and described; and the names a request mentions that the world does not know yet."""

import json

import pytest

from agents.team import world_building
from agents.team.base import AgentContext
from agents.team.messages import AgentMessage, Draft
from stories.models import WorldEntry
from tests.factories import cast, make_character, make_story
from tests.llm_servers import serve_ollama

pytestmark = pytest.mark.django_db

DRAFT = (
    "At dawn Mara rowed out to Halloway Rock. Near the Saltmere docks she met Tomas, who was mending nets. "
    "“Late again,” Tomas said. She looked at Tomas's hands, blue with cold. Everyone knew the Order of Gulls "
    "kept the light burning, and Mara walked with Tomas back to Saltmere."
)


def test_new_names_are_classified_by_how_the_draft_uses_them(user):
    story = make_story(user)
    cast(story, make_character(user, name="Mara"))
    ctx = AgentContext(mode="next_chapter", story=story, chapter=None)
    message = AgentMessage("world-proposals", "world_building", "propose_world", {"draft": "write"})
    message.context = {"write": Draft(text=DRAFT)}
    proposals = {p.name: p for p in world_building.propose(ctx, message).output.proposals}
    kinds = {name: p.kind for name, p in proposals.items()}
    assert kinds == {"Halloway Rock": "location", "Saltmere": "location", "Tomas": "character",
                     "Order of Gulls": "faction"}  # fmt: skip
    # Without a capable model the description is the draft's own sentences about the name.
    assert proposals["Halloway Rock"].description == "At dawn Mara rowed out to Halloway Rock."
    assert proposals["Tomas"].description.startswith("Near the Saltmere docks she met Tomas, who was mending nets.")
    assert not any(p.drafted_by for p in proposals.values())


def test_a_capable_model_classifies_and_drafts_only_what_the_draft_says(user, local_server, settings):
    answer = {"entities": [
        {"name": "Halloway Rock", "kind": "location", "description": "A rock Mara rows out to at dawn."},
        {"name": "Order of Gulls", "kind": "faction", "description": "The order that keeps the light burning."},
        {"name": "the bell buoy", "kind": "item", "description": "Not in this draft."},
        {"name": "Tomas", "kind": "monster", "description": "An invalid kind is ignored."},
    ]}  # fmt: skip
    serve_ollama(local_server, reply=lambda body: json.dumps(answer))
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", [local_server.url], 0
    story = make_story(user)
    cast(story, make_character(user, name="Mara"))
    ctx = AgentContext(mode="next_chapter", story=story, chapter=None)
    message = AgentMessage("world-proposals", "world_building", "propose_world", {"draft": "write"})
    message.context = {"write": Draft(text=DRAFT)}
    result = world_building.propose(ctx, message)
    proposals = {p.name: p for p in result.output.proposals}
    assert proposals["Order of Gulls"].kind == "faction" and proposals["Order of Gulls"].drafted_by == "llama3.1"
    assert proposals["Halloway Rock"].description == "A rock Mara rows out to at dawn."
    assert proposals["Tomas"].kind == "character" and not proposals["Tomas"].drafted_by  # the model's kind was invalid
    assert "the bell buoy" not in proposals  # the model named something the draft does not mention
    asked = local_server.requests[-1].json()
    assert asked["format"]["required"] == ["entities"] and "Already known: Mara" in asked["messages"][0]["content"]
    assert result.model == "llama3.1" and result.completion_tokens > 0


def test_names_the_request_mentions_that_the_world_does_not_know_are_flagged(user):
    story = make_story(user)
    cast(story, make_character(user, name="Mara"))
    WorldEntry.objects.create(story=story, kind="location", name="Saltmere")
    ctx = AgentContext(mode="next_chapter", story=story, chapter=None)
    message = AgentMessage(
        "world", "world_building", "retrieve_world", {"query": "Mara reaches the Glass Market in Saltmere"}
    )
    context = world_building.retrieve(ctx, message).output
    assert context.missing == ["Glass Market"] and [e.name for e in context.entries] == ["Saltmere"]


def test_an_entry_whose_key_the_request_names_comes_first_like_in_a_lorebook(user):
    story = make_story(user)
    for number in range(10):
        WorldEntry.objects.create(story=story, kind="location", name=f"Place {number}", description="Somewhere.")
    WorldEntry.objects.create(story=story, kind="faction", name="Order of Gulls", description="Keepers of the light.",
                              metadata={"keys": ["lamp", "keepers"]})  # fmt: skip
    ctx = AgentContext(mode="next_chapter", story=story, chapter=None)
    message = AgentMessage("world", "world_building", "retrieve_world", {"query": "Mara relights the lamp"})
    context = world_building.retrieve(ctx, message).output
    assert context.entries[0].name == "Order of Gulls" and "1 named by the request or one of their keys" in context.why
