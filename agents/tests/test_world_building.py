"""World proposals from a draft: new places and things, never the people in it."""

import pytest

from agents import world_building
from agents.base import AgentContext
from agents.messages import AgentMessage, Draft
from tests.factories import cast, make_character, make_story

pytestmark = pytest.mark.django_db

DRAFT = (
    "At dawn Mara rowed out to Halloway Rock. Near the Saltmere docks she met Tomas, who was mending nets. "
    "“Late again,” Tomas said. She looked at Tomas's hands, blue with cold. Everyone knew the Order of Gulls "
    "kept the light burning, and Mara walked with Tomas back to Saltmere."
)


def test_new_places_and_lore_are_proposed_and_people_are_not(user):
    story = make_story(user)
    cast(story, make_character(user, name="Mara"))
    ctx = AgentContext(mode="next_chapter", story=story, chapter=None)
    message = AgentMessage("world-proposals", "world_building", "propose_world", {"draft": "write"})
    message.context = {"write": Draft(text=DRAFT)}
    proposals = {p.name: p.kind for p in world_building.propose(ctx, message).output.proposals}
    assert proposals == {"Halloway Rock": "location", "Saltmere": "location", "Order of Gulls": "lore"}
