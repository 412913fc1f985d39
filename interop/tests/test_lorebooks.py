"""Lorebooks in and out: SillyTavern World Info and NovelAI into world entries, keys and all; the world out as
World Info, equivalent to what came in."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import Upload
from stories.models import WorldEntry
from tests.factories import make_story, send_file

pytestmark = pytest.mark.django_db

WORLD_INFO = {
    "entries": {
        "0": {"uid": 0, "key": ["Saltmere", "the harbour town"], "keysecondary": [], "comment": "Saltmere",
              "content": "A harbour town of grey stone.", "constant": False, "selective": True, "order": 100,
              "position": 0, "disable": False, "probability": 100, "depth": 4, "group": ""},
        "1": {"uid": 1, "key": ["Order of Gulls"], "keysecondary": ["lamp"], "comment": "",
              "content": "Keepers of the light.", "constant": True, "selective": False, "order": 50,
              "position": 1, "disable": False, "probability": 100, "depth": 4, "group": "factions"},
    }
}  # fmt: skip
NOVELAI = {
    "lorebookVersion": 5,
    "entries": [{"text": "An old mill on the river.", "displayName": "The Mill", "keys": ["mill", "wheel"],
                 "enabled": True, "contextConfig": {"prefix": "", "budgetPriority": 400}}],
    "settings": {"orderByKeyLocations": False}, "categories": [],
}  # fmt: skip


def import_book(client, story, book, name="world.json"):
    data = book if isinstance(book, bytes) else json.dumps(book).encode()
    return send_file(client, reverse("lorebook_import", args=[story.pk]), {"lorebook": SimpleUploadedFile(name, data)})


def test_world_info_round_trips(writer_client, user):
    story = make_story(user)
    response = import_book(writer_client, story, WORLD_INFO)
    assert response["Location"] == reverse("world_list", args=[story.pk])
    saltmere = WorldEntry.objects.get(story=story, name="Saltmere")
    assert (
        saltmere.description == "A harbour town of grey stone." and saltmere.metadata["keys"][1] == "the harbour town"
    )
    assert WorldEntry.objects.filter(story=story, name="Order of Gulls").exists()  # no comment: its first key
    assert "Keys: Saltmere, the harbour town" in writer_client.get(response["Location"]).content.decode()

    exported = writer_client.get(reverse("lorebook_export", args=[story.pk])).json()
    back = {e["uid"]: e for e in exported["entries"].values()}
    for uid, original in ((e["uid"], e) for e in WORLD_INFO["entries"].values()):
        for key, value in original.items():
            assert back[uid][key] == value, (uid, key)  # an empty comment too: the name came from its first key

    again = import_book(writer_client, story, exported)
    assert again.status_code == 302 and story.world_entries.count() == 2  # names already there are left alone


def test_a_novelai_lorebook_imports_with_its_keys(writer_client, user):
    story = make_story(user)
    import_book(writer_client, story, NOVELAI, name="world.lorebook")
    mill = WorldEntry.objects.get(story=story)
    assert (mill.name, mill.description, mill.metadata["keys"]) == ("The Mill", "An old mill on the river.",
                                                                    ["mill", "wheel"])  # fmt: skip
    assert mill.metadata["lorebook"]["contextConfig"]["budgetPriority"] == 400


def test_bad_lorebooks_are_refused(writer_client, user):
    story = make_story(user)
    bad = [
        (b"\x89PNG not json", "not JSON"),
        (json.dumps({"name": "x"}).encode(), "no entries"),
        (json.dumps({"entries": {"0": {"content": ""}}}).encode(), "no entries with text"),
    ]
    for data, reason in bad:
        page = import_book(writer_client, story, data).content.decode()
        failed = Upload.objects.latest("created_at")
        assert failed.status == Upload.Status.FAILED and reason in failed.message and reason in page
    assert not story.world_entries.exists()


def test_another_writer_gets_404(other_client, user):
    story = make_story(user)
    assert import_book(other_client, story, WORLD_INFO).status_code == 404
    assert other_client.get(reverse("lorebook_export", args=[story.pk])).status_code == 404
    assert not story.world_entries.exists()


def test_a_long_entry_is_split_into_parts_and_joined_again_on_export(writer_client, user):
    story = make_story(user)
    long = "\n\n".join(f"Paragraph {n} of the long history of Saltmere, " + "tide and stone " * 60 for n in range(60))
    assert len(long) > 2 * WorldEntry._meta.get_field("description").max_length
    book = {"entries": {"0": {"uid": 0, "key": ["Saltmere"], "comment": "", "content": long, "order": 7}}}
    response = import_book(writer_client, story, book)
    page = writer_client.get(response["Location"]).content.decode()
    assert "Added 3 entries" in page and "1 entry longer than 20,000 characters split into parts" in page
    parts = list(story.world_entries.order_by("name"))
    assert [p.name for p in parts] == ["Saltmere (1 of 3)", "Saltmere (2 of 3)", "Saltmere (3 of 3)"]
    assert "".join(p.description for p in parts) == long  # nothing cut
    assert all(len(p.description) <= 20000 and p.description.endswith(("\n\n", long[-20:])) for p in parts)

    exported = writer_client.get(reverse("lorebook_export", args=[story.pk])).json()
    assert list(exported["entries"].values()) == [{**book["entries"]["0"], "keysecondary": []}]  # as it came
