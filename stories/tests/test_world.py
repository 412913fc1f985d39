import pytest
from django.urls import reverse

from stories.models import WorldEntry
from tests.factories import make_story, make_world_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(user):
    story = make_story(user)
    make_world_entry(story, kind="location", name="Greyhaven", description="A harbour town of grey stone.")
    make_world_entry(story, kind="item", name="The Albatross", description="A ship that never sinks.")
    make_world_entry(story, kind="faction", name="Tide Wardens", description="Keepers of the harbour lights.")
    return story


def test_adding_a_world_entry(writer_client, story):
    response = writer_client.post(
        reverse("world_list", args=[story.pk]),
        {"kind": "lore", "name": "The Drowned Bell", "time_period": "Before the flood", "description": "It rings."},
    )
    assert response.status_code == 302
    assert WorldEntry.objects.get(name="The Drowned Bell").story == story


def test_a_nameless_entry_is_refused(writer_client, story):
    response = writer_client.post(reverse("world_list", args=[story.pk]), {"kind": "lore", "name": " "})
    assert response.status_code == 400
    assert "Give the entry a name." in response.content.decode()


def test_searching_by_name_and_description(writer_client, story):
    url = reverse("world_list", args=[story.pk])
    by_name = writer_client.get(url, {"q": "albatross"}).content.decode()
    assert "The Albatross" in by_name and "Greyhaven" not in by_name
    by_text = writer_client.get(url, {"q": "harbour"}).content.decode()
    assert "Greyhaven" in by_text and "Tide Wardens" in by_text and "The Albatross" not in by_text


def test_filtering_by_kind_with_htmx_returns_only_the_results(writer_client, story):
    response = writer_client.get(reverse("world_list", args=[story.pk]), {"kind": "faction"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="world-results">')
    assert "Tide Wardens" in html and "Greyhaven" not in html


def test_no_match_says_so(writer_client, story):
    html = writer_client.get(reverse("world_list", args=[story.pk]), {"q": "zeppelin"}).content.decode()
    assert "Nothing matches “zeppelin”" in html


def test_editing_and_deleting_an_entry(writer_client, story):
    entry = WorldEntry.objects.get(name="Greyhaven")
    writer_client.post(
        reverse("world_edit", args=[story.pk, entry.pk]),
        {"kind": "location", "name": "Greyhaven", "description": "Now with a lighthouse."},
    )
    entry.refresh_from_db()
    assert entry.description == "Now with a lighthouse."
    writer_client.post(reverse("world_delete", args=[story.pk, entry.pk]))
    assert not WorldEntry.objects.filter(pk=entry.pk).exists()
