"""Discovery through the JSON API: characters like one, a story's patterns, its style report and scenes like this
one, each described in the OpenAPI document, and another writer's story or character a 404."""

import pytest
from django.test import Client
from django.urls import reverse

from agents.discovery import patterns
from agents.memory.store import sync_chapter, sync_profile
from agents.tasks import measure_chapter_style
from api.models import ApiToken
from tests.factories import cast, make_chapter, make_character, make_story
from tests.test_like_this_one import CAPTAIN, CAPTAIN_AGAIN
from tests.test_story_patterns import SACRIFICE

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user):
    return Client(headers={"Authorization": f"Bearer {ApiToken.issue(user, 'tests')[1]}"})


@pytest.fixture
def other_api(other_user):
    return Client(headers={"Authorization": f"Bearer {ApiToken.issue(other_user, 'tests')[1]}"})


def test_characters_like_one_of_mine(api, other_api, user):
    mara = make_character(user, name="Mara", **CAPTAIN)
    tomas = make_character(user, name="Tomas", **CAPTAIN_AGAIN)
    for character in (mara, tomas):
        sync_profile(character)
    url = reverse("api_characters_like", args=[mara.pk])
    answer = api.get(url).json()
    assert answer["results"][0]["id"] == tomas.pk and answer["results"][0]["likeness"] > 0.9
    assert any(reason.startswith("voice") for reason in answer["results"][0]["reasons"])
    assert other_api.get(url).status_code == 404


def test_a_storys_patterns_style_and_scenes(api, other_api, user):
    story = make_story(user)
    mara, arlen = make_character(user, name="Mira"), make_character(user, name="Arlen")
    cast(story, mara)
    cast(story, arlen)
    chapter = make_chapter(story, content=SACRIFICE * 3)
    sync_chapter(chapter)
    measure_chapter_style(chapter.pk)

    found = api.get(reverse("api_story_patterns", args=[story.pk])).json()
    assert found["read_at"] is None and found["results"] == []
    patterns.read_story(story)
    found = api.get(reverse("api_story_patterns", args=[story.pk])).json()
    sacrifice = next(p for p in found["results"] if p["key"] == "heroic-sacrifice")
    assert sacrifice["chapter_id"] == chapter.pk and "hold them off" in sacrifice["telling_words"]
    assert found["passages"] >= 1 and found["chapters_changed_since"] is False

    style = api.get(reverse("api_story_style", args=[story.pk])).json()
    assert style["chapters"][0]["chapter_id"] == chapter.pk and style["chapters"][0]["figures"]["words"] > 200
    assert style["pending_chapter_ids"] == [] and "mean_sentence" in style["norm"]

    scenes_url = reverse("api_story_scenes", args=[story.pk])
    scenes = api.get(scenes_url, {"a": mara.pk, "b": arlen.pk}).json()["results"]
    assert scenes and all(s["chapter_id"] == chapter.pk for s in scenes)
    assert api.get(scenes_url, {"text": "He stayed to fight so they could flee."}).json()["results"][0]["score"] > 0
    assert api.get(scenes_url).json() == {"results": []}
    assert api.get(scenes_url, {"kind": "nonsense"}).status_code == 400
    assert api.get(scenes_url, {"a": "x"}).json()["fields"] == {
        "a": "Input should be a valid integer, unable to parse string as an integer"
    }
    assert api.get(scenes_url, {"a": make_character(user).pk}).status_code == 404  # not in this story's cast

    for name in ("api_story_patterns", "api_story_style", "api_story_scenes"):
        assert other_api.get(reverse(name, args=[story.pk]), {"kind": "reunion"}).status_code == 404


def test_the_discovery_operations_are_in_the_openapi_document(api):
    document = api.get(reverse("api_openapi")).json()
    scenes = document["paths"]["/api/stories/{story_id}/scenes"]["get"]
    assert {p["name"] for p in scenes["parameters"]} == {"story_id", "text", "a", "b", "kind", "scope"}
    kind = next(p for p in scenes["parameters"] if p["name"] == "kind")
    assert "reunion" in kind["schema"]["enum"]
    for path in ("/api/characters/{character_id}/like-this", "/api/stories/{story_id}/patterns",
                 "/api/stories/{story_id}/style"):  # fmt: skip
        assert "200" in document["paths"][path]["get"]["responses"]
