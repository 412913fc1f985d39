"""Scenes like this one: earlier passages like a given one, where two characters appear together, or of a kind,
in a story or across the writer's library; never another writer's."""

import pytest
from django.urls import reverse

from agents.discovery import scenes
from agents.memory.store import sync_chapter
from tests.factories import cast, make_chapter, make_character, make_story, relate

pytestmark = pytest.mark.django_db

QUARREL = "Mara shouted at Tomas across the kitchen table. He had sold their father's boat without asking, she said."
REUNION = "After ten years at sea Tomas walked up the harbour steps, and Mara ran to him and held him."
STORM = "The storm broke over the lighthouse; the lamp guttered and the glass rattled in its frame all night."
ILSE = "Ilse counted the coins twice and hid them under the loose board by the stove."


@pytest.fixture
def library(user, other_user):
    story, other = make_story(user, title="The Keeper"), make_story(user, title="The Sequel")
    mara, tomas = make_character(user, name="Mara"), make_character(user, name="Tomas Vell")
    for character in (mara, tomas):
        cast(story, character)
    chapters = [make_chapter(story, content=text) for text in (QUARREL, STORM, REUNION, ILSE)]
    chapters.append(make_chapter(other, content="Years later Mara and Tomas argued again over the old boat."))
    chapters.append(make_chapter(make_story(other_user), content=QUARREL))  # another writer's, word for word
    for chapter in chapters:
        sync_chapter(chapter)
    return story, mara, tomas


def test_two_characters_are_found_together_by_full_or_first_name_in_reading_order(user, library):
    story, mara, tomas = library
    found = scenes.find(user, names=[mara.name, tomas.name], story=story)
    assert [item.text for item in found] == [QUARREL, REUNION]
    everywhere = scenes.find(user, names=[mara.name, tomas.name])
    assert len(everywhere) == 3 and all(item.owner_id == user.pk for item in everywhere)
    everywhere[-1].story.move_to_trash()  # the sequel: a story in the trash is not searched
    assert len(scenes.find(user, names=[mara.name, tomas.name])) == 2


def test_a_passage_finds_the_scenes_closest_in_meaning_but_not_itself(user, library):
    story, _, _ = library
    found = scenes.find(user, text="The two of them quarrelled bitterly about the family boat.", story=story)
    assert found[0].text == QUARREL
    assert QUARREL not in [item.text for item in scenes.find(user, text=QUARREL, story=story)]


def test_scenes_are_found_by_kind_alone_or_with_a_passage(user, library):
    story, _, _ = library
    assert scenes.find(user, kind="reunion", story=story, k=1)[0].text == REUNION
    assert scenes.find(user, kind="argument", story=story, k=1)[0].text == QUARREL
    together = scenes.find(user, text="A night of wind and rain.", kind="reunion", story=story)
    assert together[0].text == STORM and together[1].text == REUNION


def test_the_scenes_page_for_the_owner_and_404_for_anyone_else(writer_client, other_client, library):
    story, mara, tomas = library
    relate(mara, tomas)
    relationships = writer_client.get(reverse("story_relationships", args=[story.pk])).content.decode()
    assert f'?a={mara.pk}&amp;b={tomas.pk}" data-scenes-between' in relationships
    url = reverse("story_scenes", args=[story.pk])
    page = writer_client.get(url, {"a": mara.pk, "b": tomas.pk})
    html = page.content.decode()
    assert "He had sold their father" in html and "Ilse counted" not in html and html.count("data-scene=") == 2
    library_page = writer_client.get(url, {"a": mara.pk, "b": tomas.pk, "scope": "library"}).content.decode()
    assert "The Sequel" in library_page and library_page.count("data-scene=") == 3
    assert other_client.get(url, {"a": mara.pk}).status_code == 404
    stranger = make_character(make_story(mara.owner).owner, name="Not in this story")
    assert writer_client.get(url, {"a": stranger.pk}).status_code == 404
    assert writer_client.get(url, {"kind": "nonsense"}).status_code == 400
    assert writer_client.get(url, {"a": "x"}).status_code == 400
    assert writer_client.get(url).status_code == 200
