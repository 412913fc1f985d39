"""The JSON API for stories, chapters, characters and world entries, and the OpenAPI document describing it."""

from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from api.models import ApiToken
from characters.models import Character
from generation.models import GenerationTask
from stories.models import Chapter, Role, Story, StoryMembership
from tests.concurrency import at_once
from tests.factories import make_chapter, make_character, make_story

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user):
    _, key = ApiToken.issue(user, "tests")
    return Client(headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def other_api(other_user):
    _, key = ApiToken.issue(other_user, "tests")
    return Client(headers={"Authorization": f"Bearer {key}"})


def test_stories_are_listed_a_page_at_a_time_created_and_changed(api, user):
    for number in range(52):
        make_story(user, title=f"Story {number}")
    first = api.get("/api/stories").json()
    assert (first["count"], first["pages"], len(first["results"])) == (52, 2, 50) and first[
        "next"
    ] == "/api/stories?page=2"
    assert len(api.get(first["next"]).json()["results"]) == 2

    created = api.post("/api/stories", {"title": "Salt", "premise": "A keeper."}, content_type="application/json")
    assert created.status_code == 201 and created.json()["chapters"] == 0
    story_id = created.json()["id"]
    changed = api.patch(f"/api/stories/{story_id}", {"genre": "Fantasy"}, content_type="application/json").json()
    assert (changed["title"], changed["genre"]) == ("Salt", "Fantasy")
    bad = api.post("/api/stories", {"title": "", "colour": "red"}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"title", "colour"}


def test_chapters_are_written_with_their_version_and_a_stale_one_is_a_409(api, user):
    story = make_story(user)
    created = api.post(f"/api/stories/{story.pk}/chapters", {"title": "One", "content": "The tide turned."},
                       content_type="application/json")  # fmt: skip
    chapter = created.json()
    assert created.status_code == 201 and chapter["version"] == 1 and chapter["word_count"] == 3
    url = f"/api/stories/{story.pk}/chapters/{chapter['id']}"
    saved = api.patch(url, {"content": "The tide came in.", "base_version": 1}, content_type="application/json")
    assert saved.json()["version"] == 2 and saved.json()["content"] == "The tide came in."
    stale = api.patch(url, {"content": "Lost?", "base_version": 1}, content_type="application/json")
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert Chapter.objects.get(pk=chapter["id"]).content == "The tide came in."
    assert api.patch(url, {"content": "x"}, content_type="application/json").status_code == 400
    assert api.patch(url, {"title": "The Tide"}, content_type="application/json").json()["title"] == "The Tide"
    listed = api.get(f"/api/stories/{story.pk}/chapters").json()["results"]
    assert listed[0]["content"] is None and listed[0]["title"] == "The Tide"
    assert Chapter.objects.get(pk=chapter["id"]).revisions.count() == 2  # every change of the text kept a revision


def test_characters_and_world_entries(api, user):
    story = make_story(user)
    mara = api.post("/api/characters", {"name": "Mara", "appearance": "Grey eyes."}, content_type="application/json")
    assert mara.status_code == 201
    changed = api.patch(f"/api/characters/{mara.json()['id']}", {"goals": "Relight the lamp."},
                        content_type="application/json").json()  # fmt: skip
    assert (changed["appearance"], changed["goals"]) == ("Grey eyes.", "Relight the lamp.")
    entry = api.post(f"/api/stories/{story.pk}/world", {"kind": "location", "name": "Saltmere", "keys": ["harbour"]},
                     content_type="application/json").json()  # fmt: skip
    assert entry["keys"] == ["harbour"]
    assert api.get(f"/api/stories/{story.pk}/world").json()["results"][0]["name"] == "Saltmere"
    bad = api.post(f"/api/stories/{story.pk}/world", {"kind": "planet", "name": "X"}, content_type="application/json")
    assert bad.status_code == 400 and "kind" in bad.json()["fields"]


def test_another_writer_gets_404_everywhere(api, other_api, user):
    story = make_story(user)
    chapter = make_chapter(story, title="One", content="Mine.")
    mara = make_character(user, name="Mara")
    entry = story.world_entries.create(kind="lore", name="Secret")
    for url in (f"/api/stories/{story.pk}", f"/api/stories/{story.pk}/chapters",
                f"/api/stories/{story.pk}/chapters/{chapter.pk}", f"/api/characters/{mara.pk}",
                f"/api/stories/{story.pk}/world", f"/api/stories/{story.pk}/world/{entry.pk}"):  # fmt: skip
        assert other_api.get(url).status_code == 404, url
        assert other_api.patch(url, {"title": "Theirs"}, content_type="application/json").status_code in (404, 405)
    assert other_api.get("/api/stories").json()["count"] == 0
    assert Story.objects.get(pk=story.pk).title == story.title and Client().get("/api/stories").status_code == 401


def test_stories_shared_with_the_caller_are_listed_with_their_role(api, other_api, user, other_user):
    mine = make_story(user, title="Mine")
    theirs = make_story(other_user, title="Theirs")
    make_chapter(theirs, title="One", content="Four words are here.")
    StoryMembership.objects.create(story=theirs, user=user, role=Role.EDITOR)
    hidden = make_story(other_user, title="Hidden", is_flagged=True)
    StoryMembership.objects.create(story=hidden, user=user, role=Role.CO_AUTHOR)
    make_story(other_user, title="Not shared")

    listed = {s["title"]: s for s in api.get("/api/stories").json()["results"]}
    assert set(listed) == {"Mine", "Theirs"}
    assert (listed["Mine"]["role"], listed["Theirs"]["role"], listed["Theirs"]["words"]) == ("owner", "editor", 4)
    assert listed["Theirs"]["owner"] == (other_user.display_name or other_user.email)
    assert [s["id"] for s in api.get("/api/stories?role=shared").json()["results"]] == [theirs.pk]
    assert [s["id"] for s in api.get("/api/stories?role=owner&page=1").json()["results"]] == [mine.pk]
    assert api.get("/api/stories?role=co_author").json()["count"] == 0
    assert api.get(f"/api/stories/{theirs.pk}").json()["role"] == "editor"
    bad = api.get("/api/stories?role=boss")
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"role"}
    # The owner sees each story once, however many people share it.
    StoryMembership.objects.create(story=mine, user=other_user, role=Role.READER)
    assert api.get("/api/stories").json()["count"] == 2
    assert {s["title"]: s["role"] for s in other_api.get("/api/stories").json()["results"]} == {
        "Theirs": "owner", "Not shared": "owner", "Mine": "reader",
    }  # fmt: skip


def test_the_openapi_document_describes_every_route_and_the_docs_page_shows_it(client):
    document = client.get(reverse("api_openapi")).json()
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    assert set(paths["/api/stories/{story_id}/chapters/{chapter_id}"]) == {"get", "patch"}
    patch = paths["/api/stories/{story_id}/chapters/{chapter_id}"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChapterPatch"
    }
    assert "409" in patch["responses"] and "page" in [p["name"] for p in paths["/api/stories"]["get"]["parameters"]]
    assert document["components"]["schemas"]["StoryIn"]["properties"]["title"]["maxLength"] == 200
    # Every route the document names exists, with the methods it says.
    api = Client()
    for path, methods in paths.items():
        concrete = path.replace("{task_id}", "00000000-0000-0000-0000-000000000000")
        concrete = concrete.replace("{picture_id}", "00000000-0000-0000-0000-000000000000")
        for name in ("story_id", "chapter_id", "character_id", "entry_id"):
            concrete = concrete.replace("{" + name + "}", "1")
        for method in methods:
            assert getattr(api, method)(concrete).status_code == 401, (method, path)  # a route, asking to sign in
    page = client.get(reverse("api_docs")).content.decode()
    assert (
        "<code>/api/stories/{story_id}/chapters/{chapter_id}</code>" in page and 'href="#schema-ChapterPatch"' in page
    )


@pytest.mark.django_db(transaction=True)
def test_chapters_added_at_once_take_different_places(user):
    story = make_story(user)
    _, key = ApiToken.issue(user, "tests")

    def add():
        client = Client(headers={"Authorization": f"Bearer {key}"})
        return client.post(f"/api/stories/{story.pk}/chapters", {"title": "New"}, content_type="application/json")

    statuses = [response.status_code for response in at_once(6, add)]
    assert statuses == [201] * 6  # was an IntegrityError (500) when two took the same place
    assert sorted(story.chapters.values_list("order", flat=True)) == [1, 2, 3, 4, 5, 6]


def test_a_character_change_keeps_a_portrait_seed_set_meanwhile(api, user):
    mara = make_character(user, name="Mara")
    stale = Character.objects.get(pk=mara.pk)  # as the request read it, before a portrait was accepted
    Character.objects.filter(pk=mara.pk).update(portrait_seed=424242)  # the portrait accepted meanwhile
    with mock.patch("api.data_views.Character.objects.for_user") as for_user:
        for_user.return_value.filter.return_value.first.return_value = stale
        api.patch(f"/api/characters/{mara.pk}", {"goals": "Sail."}, content_type="application/json")
    mara.refresh_from_db()
    assert mara.goals == "Sail." and mara.portrait_seed == 424242


def test_what_the_document_promises_is_what_the_api_checks(api, user):
    """Limits come from the models' fields; text with NUL, a page number below 1 and bodies that are not JSON are
    refused with the reason; a method the operation does not have names those it has."""
    story = make_story(user)
    premise = "p" * Story._meta.get_field("premise").max_length
    assert (
        api.patch(f"/api/stories/{story.pk}", {"premise": premise}, content_type="application/json").status_code == 200
    )
    too_long = api.patch(f"/api/stories/{story.pk}", {"premise": premise + "p"}, content_type="application/json")
    assert too_long.status_code == 400 and set(too_long.json()["fields"]) == {"premise"}
    nul = api.post("/api/characters", {"name": "Ma\x00ra"}, content_type="application/json")
    assert nul.status_code == 400 and nul.json()["fields"] == {"name": "Text cannot hold NUL characters."}
    assert api.get("/api/stories?page=0").status_code == 400
    assert api.post("/api/stories", {"title": "Form-encoded"}).status_code == 415
    refused = api.delete(f"/api/stories/{story.pk}")
    assert refused.status_code == 405 and refused["Allow"] == "GET, PATCH"
    no_version = api.patch(f"/api/stories/{story.pk}/chapters/{make_chapter(story).pk}", {"content": "New."},
                           content_type="application/json")  # fmt: skip
    assert no_version.status_code == 400 and "base_version" in no_version.json()["fields"]["body"]


def test_asking_the_agents_checks_names_and_selections_against_the_story_as_it_is(api, user):
    story = make_story(user)
    chapter = make_chapter(story, content="The tide turned.")
    url = f"/api/stories/{story.pk}/generate-content"
    stranger = api.post(url, {"mode": "dialogue", "chapter_id": chapter.pk, "characters": ["Nobody"]},
                        content_type="application/json")  # fmt: skip
    assert stranger.status_code == 404 and "Nobody" in stranger.json()["error"]
    past_the_end = api.post(url, {"mode": "rewrite", "chapter_id": chapter.pk, "selection_start": 4,
                                  "selection_end": 400}, content_type="application/json")  # fmt: skip
    assert past_the_end.status_code == 409 and past_the_end.json()["current_version"] == chapter.version
    no_chapter = api.post(url, {"mode": "continue"}, content_type="application/json")
    assert no_chapter.status_code == 400 and set(no_chapter.json()["fields"]) == {"chapter_id"}
    backwards = api.post(url, {"mode": "rewrite", "chapter_id": chapter.pk, "selection_start": 8,
                               "selection_end": 4}, content_type="application/json")  # fmt: skip
    assert backwards.status_code == 202
    task = GenerationTask.objects.get(pk=backwards.json()["task_id"])
    assert task.task_request.selection.text == "tide"
