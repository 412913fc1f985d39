from xml.etree import ElementTree

import pytest
from django.urls import reverse

from characters.models import Character, CharacterRelationship, StoryCharacter
from tests.factories import cast, make_character, make_story, relate

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


def character_data(**overrides):
    data = {
        "name": "Mara Vell",
        "appearance": "Tall, grey eyes, a burn scar on her left hand.",
        "personality": "Patient, dry humour, slow to trust.",
        "backstory": "Raised in the lighthouse.",
        "speech_pattern": "Short sentences. Sailor's slang.",
        "goals": "Find her brother.",
    }
    return {**data, **overrides}


def test_creating_a_character_in_the_library(writer_client, user):
    response = writer_client.post(reverse("character_create"), character_data())
    mara = Character.objects.get(name="Mara Vell")
    assert response["Location"] == mara.get_absolute_url()
    assert mara.owner == user and mara.speech_pattern == "Short sentences. Sailor's slang."


def test_creating_a_character_from_a_story_adds_them_to_its_cast(writer_client, user):
    story = make_story(user)
    response = writer_client.post(f"{reverse('character_create')}?story={story.pk}", character_data())
    assert response["Location"] == reverse("story_cast", args=[story.pk])
    assert StoryCharacter.objects.get(story=story).character.name == "Mara Vell"


def test_a_nameless_character_is_refused(writer_client):
    response = writer_client.post(reverse("character_create"), character_data(name=""))
    assert response.status_code == 200
    assert "Give the character a name." in response.content.decode()
    assert "Raised in the lighthouse." in response.content.decode()
    assert not Character.objects.exists()


def test_the_library_lists_my_characters_with_their_story_count(writer_client, user, other_user):
    mara = make_character(user, name="Mara")
    cast(make_story(user), mara)
    cast(make_story(user), mara)
    make_character(other_user, name="Not mine")
    html = writer_client.get(reverse("character_list")).content.decode()
    assert "Mara" in html and "In 2 stories" in html and "Not mine" not in html


def test_library_queries_stay_constant(writer_client, user, count_queries, django_assert_num_queries):
    make_character(user)
    few = count_queries(lambda: writer_client.get(reverse("character_list")))
    story = make_story(user)
    for _ in range(20):
        cast(story, make_character(user))
    with django_assert_num_queries(few):
        writer_client.get(reverse("character_list"))


def test_editing_a_character(writer_client, user):
    mara = make_character(user, name="Mara")
    writer_client.post(mara.get_absolute_url(), character_data(name="Mara Vell", goals="Light the lamp."))
    mara.refresh_from_db()
    assert mara.name == "Mara Vell" and mara.goals == "Light the lamp."


def test_casting_updating_and_removing(writer_client, user):
    story, mara = make_story(user), make_character(user, name="Mara")
    writer_client.post(
        reverse("story_cast", args=[story.pk]), {"character": mara.pk, "role": "protagonist", "importance": 9}
    )
    member = StoryCharacter.objects.get(story=story, character=mara)
    assert (member.role, member.importance) == ("protagonist", 9)

    bad = writer_client.post(reverse("cast_update", args=[story.pk, member.pk]), {"role": "mentor", "importance": 11})
    assert bad.status_code == 302
    member.refresh_from_db()
    assert member.importance == 9

    writer_client.post(reverse("cast_update", args=[story.pk, member.pk]), {"role": "mentor", "importance": 3})
    member.refresh_from_db()
    assert (member.role, member.importance) == ("mentor", 3)

    writer_client.post(reverse("cast_remove", args=[story.pk, member.pk]))
    assert not StoryCharacter.objects.filter(pk=member.pk).exists()
    assert Character.objects.filter(pk=mara.pk).exists()  # still in the library


@pytest.fixture
def trio(user):
    story = make_story(user, title="Harbour")
    mara, tomas, ilse = (make_character(user, name=n) for n in ["Mara", "Tomas & Son", "Ilse"])
    cast(story, mara, role="protagonist", importance=10)
    cast(story, tomas, role="antagonist", importance=7)
    cast(story, ilse, importance=4)
    return story, mara, tomas, ilse


def test_adding_a_relationship_and_refusing_bad_ones(writer_client, trio):
    story, mara, tomas, ilse = trio
    url = reverse("story_relationships", args=[story.pk])
    writer_client.post(
        url, {"source": mara.pk, "kind": "rival", "target": tomas.pk, "strength": 8, "description": "Old feud"}
    )
    assert CharacterRelationship.objects.get(source=mara, target=tomas).strength == 8

    for data, error in [
        ({"source": mara.pk, "kind": "friend", "target": mara.pk, "strength": 5}, "Pick two different characters."),
        ({"source": mara.pk, "kind": "rival", "target": tomas.pk, "strength": 5}, "already exists"),
        ({"source": mara.pk, "kind": "friend", "target": ilse.pk, "strength": 11}, "less than or equal to 10"),
        ({"source": mara.pk, "kind": "friend", "target": ilse.pk, "strength": 0}, "greater than or equal to 1"),
    ]:
        response = writer_client.post(url, data)
        assert response.status_code == 400 and error in response.content.decode()
    assert CharacterRelationship.objects.count() == 1


def test_the_relationship_graph_is_an_svg_with_every_character_and_relationship(writer_client, trio):
    story, mara, tomas, ilse = trio
    relate(mara, tomas, kind="rival", strength=9)
    relate(ilse, mara, kind="mentor", strength=3)
    response = writer_client.get(reverse("relationship_graph_svg", args=[story.pk]))
    assert response["Content-Type"] == "image/svg+xml"
    svg = ElementTree.fromstring(response.content)
    names = [text.text for text in svg.iter(f"{SVG}text") if text.get("font-weight") == "600"]
    assert names == ["Mara", "Tomas & Son", "Ilse"]  # most important first
    edges = svg.findall(f".//{SVG}g[@class='edge']")
    assert [edge.find(f"{SVG}title").text for edge in edges] == [
        "Mara → Tomas & Son: Rival 9",
        "Ilse → Mara: Mentor 3",
    ]
    widths = [float(edge.find(f"{SVG}path").get("stroke-width")) for edge in edges]
    assert widths[0] > widths[1]  # stronger relationships draw thicker


def test_the_relationships_page_shows_the_graph_and_the_table(writer_client, trio):
    story, mara, tomas, _ = trio
    relate(mara, tomas, kind="rival", strength=9, description="Old feud")
    html = writer_client.get(reverse("story_relationships", args=[story.pk])).content.decode()
    assert "<svg" in html and "Old feud" in html and "9/10" in html


def test_removing_a_relationship(writer_client, trio):
    story, mara, tomas, _ = trio
    relationship = relate(mara, tomas)
    writer_client.post(reverse("relationship_delete", args=[story.pk, relationship.pk]))
    assert not CharacterRelationship.objects.exists()


def test_deleting_a_character_asks_first(writer_client, user):
    mara = make_character(user, name="Mara")
    assert "Delete Mara?" in writer_client.get(reverse("character_delete", args=[mara.pk])).content.decode()
    writer_client.post(reverse("character_delete", args=[mara.pk]))
    assert not Character.objects.exists()
