"""Character Cards (SillyTavern / chub.ai) in and out: JSON V1–V3 and PNG with the card in its text chunks, the
portrait included, the lorebook into the story's world; exporting what was imported gives an equivalent card."""

import base64
import html
import io
import json
import struct
import time
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, PngImagePlugin

from characters.models import Character
from core.models import Upload
from interop import cards
from pictures.models import Picture
from stories.models import WorldEntry
from tests import hostile
from tests.factories import make_character, make_story, send_file
from tests.image_servers import png_claiming

pytestmark = pytest.mark.django_db

V2 = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Seraphina", "description": "A guardian of the forest, tall, with pink hair.",
        "personality": "Kind, protective, wry.", "scenario": "You wake in her glade.",
        "first_mes": "*She kneels beside you.* You're awake.", "mes_example": "<START>\n{{char}}: Easy now.",
        "creator_notes": "For testing.", "system_prompt": "", "post_history_instructions": "",
        "alternate_greetings": ["Hello, traveller."], "tags": ["fantasy", "guardian"], "creator": "someone",
        "character_version": "1.2", "extensions": {"talkativeness": "0.5", "world": "Eldoria"},
        "character_book": {
            "name": "Eldoria", "extensions": {},
            "entries": [{"keys": ["glade", "grove"], "content": "A clearing where the old magic pools.",
                         "extensions": {}, "enabled": True, "insertion_order": 0, "name": "The Glade", "id": 7}],
        },
    },
}  # fmt: skip


def card_png(card: dict, keyword="chara", size=(40, 60)) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text(keyword, base64.b64encode(json.dumps(card).encode()).decode())
    out = io.BytesIO()
    Image.new("RGB", size, (200, 100, 150)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def with_card(png: bytes, card: dict) -> bytes:
    """The PNG with a `chara` text chunk holding the card, put right after its header."""
    text = b"chara\0" + base64.b64encode(json.dumps(card).encode())
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return png[:33] + chunk + png[33:]


def import_card(client, data, name="card.json", **extra):
    return send_file(client, reverse("card_import"), {"card": SimpleUploadedFile(name, data), **extra})


def test_a_v2_card_round_trips_through_the_library(writer_client, user):
    response = import_card(writer_client, json.dumps(V2).encode())
    seraphina = Character.objects.get(name="Seraphina")
    assert response["Location"] == seraphina.get_absolute_url()
    assert seraphina.backstory == V2["data"]["description"] and seraphina.personality == "Kind, protective, wry."
    assert seraphina.speech_pattern == "<START>\n{{char}}: Easy now."
    exported = writer_client.get(reverse("card_export", args=[seraphina.pk, "v2"])).json()
    assert exported["spec"] == "chara_card_v2"
    for key, value in V2["data"].items():  # everything the card carried comes back as it was
        assert exported["data"][key] == value, key
    v3 = writer_client.get(reverse("card_export", args=[seraphina.pk, "v3"])).json()
    assert v3["spec"] == "chara_card_v3" and v3["data"]["character_book"] == V2["data"]["character_book"]

    # What the profile has no field for is on the character page, and survives an edit of the profile.
    page = writer_client.get(seraphina.get_absolute_url()).content.decode()
    for shown in ("First message", "*She kneels beside you.* You&#x27;re awake.</textarea>", "Other greetings",
                  ">Hello, traveller.</textarea>", "You wake in her glade.</textarea>", 'value="fantasy, guardian"',
                  "For testing.</textarea>", 'value="someone"'):  # fmt: skip
        assert shown in page, shown
    writer_client.post(seraphina.get_absolute_url(), {"name": "Seraphina", "personality": "Kind."})
    exported = writer_client.get(reverse("card_export", args=[seraphina.pk, "v2"])).json()
    assert (
        exported["data"]["alternate_greetings"] == ["Hello, traveller."] and exported["data"]["tags"][1] == "guardian"
    )


def test_a_png_card_brings_its_portrait_and_exports_as_a_png_card(writer_client, user):
    v3 = {"spec": "chara_card_v3", "spec_version": "3.0", "data": {**V2["data"], "nickname": "Sera"}}
    import_card(writer_client, card_png(v3, "ccv3"), name="seraphina.png")
    seraphina = Character.objects.get()
    portrait = Picture.objects.get(character=seraphina)
    assert portrait.status == "accepted" and portrait.width == 40
    assert b"ccv3" not in portrait.image.read()  # the stored portrait is cleaned of the card

    exported = writer_client.get(reverse("card_export", args=[seraphina.pk, "png"]))
    image = Image.open(io.BytesIO(exported.content))
    assert image.size == (40, 60)
    for keyword, spec in (("chara", "chara_card_v2"), ("ccv3", "chara_card_v3")):
        card = json.loads(base64.b64decode(image.text[keyword]))
        assert card["spec"] == spec and card["data"]["name"] == "Seraphina"
    assert json.loads(base64.b64decode(image.text["ccv3"]))["data"]["nickname"] == "Sera"

    # Imported again, the exported PNG gives the same character.
    import_card(writer_client, exported.content, name="again.png")
    again = Character.objects.exclude(pk=seraphina.pk).get()
    fields = ("name", "appearance", "personality", "backstory", "speech_pattern", "goals")
    assert [getattr(again, f) for f in fields] == [getattr(seraphina, f) for f in fields]


def test_a_profile_written_here_keeps_its_fields_through_a_card(writer_client, user):
    mara = make_character(user, name="Mara", appearance="Grey eyes.", backstory="Raised by the sea.",
                          goals="Relight the lamp.", speech_pattern="Short, dry.")  # fmt: skip
    card = writer_client.get(reverse("card_export", args=[mara.pk, "v2"])).json()
    assert card["data"]["description"] == "Grey eyes.\n\nRaised by the sea."  # what other tools read
    import_card(writer_client, json.dumps(card).encode())
    copy = Character.objects.exclude(pk=mara.pk).get()
    assert (copy.appearance, copy.backstory, copy.goals) == ("Grey eyes.", "Raised by the sea.", "Relight the lamp.")


def test_a_card_imported_into_a_story_joins_the_cast_and_its_lorebook_the_world(writer_client, user):
    story = make_story(user)
    response = import_card(writer_client, json.dumps(V2).encode(), story=story.pk)
    assert response["Location"] == reverse("story_cast", args=[story.pk])
    assert story.characters.get().name == "Seraphina"
    glade = WorldEntry.objects.get(story=story)
    assert glade.name == "The Glade" and glade.metadata["keys"] == ["glade", "grove"]


def test_v1_cards_are_read_too(writer_client):
    v1 = {"name": "Old Tom", "description": "A ferryman.", "personality": "Gruff.", "first_mes": "Fare?",
          "mes_example": "", "scenario": "The river."}  # fmt: skip
    import_card(writer_client, json.dumps(v1).encode())
    tom = Character.objects.get()
    assert tom.backstory == "A ferryman." and tom.attributes["card"] == {"first_mes": "Fare?", "scenario": "The river."}


def test_bad_cards_are_refused_and_nothing_is_saved(writer_client):
    plain = io.BytesIO()
    Image.new("RGB", (10, 10)).save(plain, "PNG")
    for data, name, reason in [
        (plain.getvalue(), "x.png", "This PNG has no character card in it"),
        (b"not json", "x.json", "neither a character card"),
        (json.dumps({"spec": "chara_card_v9", "data": {}}).encode(), "x.json", "Unknown character card format"),
        (json.dumps({"spec": "chara_card_v2", "data": {"name": ""}}).encode(), "x.json", "has no name"),
        (card_png(V2)[:80], "x.png", "damaged"),
    ]:
        page = import_card(writer_client, data, name=name).content.decode()
        failed = Upload.objects.get(filename=name)
        assert failed.status == Upload.Status.FAILED and reason in failed.message, (name, failed.message)
        assert reason in page
        failed.delete()
    assert not Character.objects.exists() and not Picture.objects.exists()
    # A card whose picture claims 81 megapixels: the card comes in, the picture is never decoded, and it says so.
    made = import_card(writer_client, with_card(png_claiming(9000, 9000), V2), name="bomb.png")
    page = writer_client.get(made["Location"]).content.decode()
    assert "9,000 × 9,000 pixels; the limit is 40 megapixels), so it has no portrait" in page
    assert Character.objects.get().name == "Seraphina" and not Picture.objects.exists()


def test_script_in_a_cards_fields_is_escaped_where_it_is_shown(writer_client):
    evil = {**V2["data"], "name": "<script>alert(1)</script>", "personality": "<img src=x onerror=alert(2)>"}
    import_card(writer_client, json.dumps({**V2, "data": evil}).encode())
    character = Character.objects.get()
    for url in (character.get_absolute_url(), reverse("character_list")):
        page = writer_client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_another_writer_gets_404(writer_client, other_client, user):
    mara = make_character(user, name="Mara")
    story = make_story(user)
    for kind in ("png", "v2", "v3"):
        assert other_client.get(reverse("card_export", args=[mara.pk, kind])).status_code == 404
    assert import_card(other_client, json.dumps(V2).encode(), story=story.pk).status_code == 404
    assert writer_client.get(reverse("card_export", args=[mara.pk, "exe"])).status_code == 404
    assert not story.characters.exists()


def test_an_animated_png_card_is_read_without_decoding_its_frames(writer_client):
    animated = hostile.apng_card(frames=60, size=3000)
    started = time.perf_counter()
    card = cards.read(animated, 20 * 1024 * 1024)
    assert time.perf_counter() - started < 0.2 and card.fields["name"] == "Frames"
    import_card(writer_client, animated, name="animated.png")
    portrait = Picture.objects.get(character__name="Frames")
    assert (portrait.width, portrait.height) == (3000, 3000)  # the first frame, cleaned like any picture
    assert Upload.objects.get().seconds < 10


def test_compressed_and_international_text_chunks_are_read_within_bounds():
    text = base64.b64encode(json.dumps(V2).encode())
    compressed = b"chara\0\0" + zlib.compress(text)
    international = b"ccv3\0\0\0en\0\0" + text
    for kind, body in ((b"zTXt", compressed), (b"iTXt", international)):
        chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        png = png_claiming(10, 10)
        assert cards.read(png[:33] + chunk + png[33:], 20 * 1024 * 1024).fields["name"] == "Seraphina"
    bomb = b"chara\0\0" + zlib.compress(b"A" * (50 * 1024 * 1024))
    chunk = struct.pack(">I", len(bomb)) + b"zTXt" + bomb + struct.pack(">I", zlib.crc32(b"zTXt" + bomb))
    png = png_claiming(10, 10)
    with pytest.raises(cards.CardError, match="expands to far more than a card could"):
        cards.read(png[:33] + chunk + png[33:], 20 * 1024 * 1024)


def test_a_card_whose_picture_is_damaged_imports_without_a_portrait_and_says_so(writer_client, user):
    plain = io.BytesIO()
    Image.new("RGB", (40, 60), (200, 100, 150)).save(plain, "PNG")
    damaged = with_card(plain.getvalue(), V2)[:-30]  # the card chunk intact, the picture's data cut short
    story = make_story(user)
    response = import_card(writer_client, damaged, name="seraphina.png", story=story.pk)
    page = writer_client.get(response["Location"]).content.decode()
    assert "Imported Seraphina from a character card. Its picture could not be used" in page
    assert "so it has no portrait" in page and "Its lorebook added 1 entry to the story" in page
    assert Character.objects.get().name == "Seraphina" and not Picture.objects.exists()

    import_card(writer_client, json.dumps(V2).encode(), story=story.pk)  # the same card again
    page = html.unescape(writer_client.get(reverse("story_cast", args=[story.pk])).content.decode())
    assert "added 0 entries to the story's world (1 with names the world already has were left as they are)" in page


def test_a_card_imported_again_offers_to_update_the_character_instead_of_keeping_two(writer_client, user, other_client):
    story = make_story(user)
    import_card(writer_client, json.dumps(V2).encode(), story=story.pk)
    first = Character.objects.get()
    first.personality = "Changed here."
    first.save()
    newer_card = {**V2, "data": {**V2["data"], "personality": "Fierce now.", "tags": ["fantasy", "older"]}}
    response = import_card(writer_client, json.dumps(newer_card).encode(), name="again.json")
    newer = Character.objects.exclude(pk=first.pk).get()
    assert response["Location"] == newer.get_absolute_url()
    page = html.unescape(writer_client.get(response["Location"]).content.decode())
    assert "You already had a Seraphina: its page offers to update that one" in page
    assert "data-card-duplicate" in page and "Update Seraphina from this card" in page

    url = reverse("card_update", args=[newer.pk])
    assert other_client.post(url).status_code == 404
    assert writer_client.post(url)["Location"] == first.get_absolute_url()
    first.refresh_from_db()
    assert list(Character.objects.all()) == [first]  # one character, updated
    assert first.personality == "Fierce now." and first.attributes["card"]["tags"] == ["fantasy", "older"]
    assert "card_duplicate_of" not in first.attributes and list(story.characters.all()) == [first]
    assert writer_client.post(url).status_code == 404  # nothing left to update from


def test_a_card_field_longer_than_the_profile_holds_is_kept_whole_and_goes_out_whole(writer_client, user):
    long = "\n\n".join(f"Part {n} of a very long history, " + "of glades and storms " * 60 for n in range(30))
    assert len(long) > cards.LIMITS["backstory"]
    import_card(writer_client, json.dumps({**V2, "data": {**V2["data"], "description": long}}).encode())
    seraphina = Character.objects.get()
    assert seraphina.backstory == long[: cards.LIMITS["backstory"]]  # the profile holds its beginning
    page = writer_client.get(seraphina.get_absolute_url()).content.decode()
    assert f"The card's description is {len(long):,} characters" in page
    exported = writer_client.get(reverse("card_export", args=[seraphina.pk, "v2"])).json()
    assert exported["data"]["description"] == long  # nothing lost on the way out
    seraphina.backstory = "Rewritten here."
    seraphina.save()
    exported = writer_client.get(reverse("card_export", args=[seraphina.pk, "v2"])).json()
    assert exported["data"]["description"] == "Rewritten here."  # an edit wins over the card's text


def test_the_card_fields_are_edited_on_the_character_page_and_go_out_with_the_card(writer_client, user, other_client):
    import_card(writer_client, json.dumps(V2).encode())
    seraphina = Character.objects.get(name="Seraphina")
    long_scenario = "The glade. " * 6000  # longer than a field edited here may be, as a card may bring it
    seraphina.attributes["card"]["scenario"] = long_scenario
    seraphina.save()
    page = writer_client.get(seraphina.get_absolute_url()).content.decode()
    assert page.count('name="card_alternate_greetings"') == 2  # the greeting, and an empty box for a new one

    form = {"name": "Seraphina", "personality": "Kind.", "card_first_mes": "You're safe now.",
            "card_alternate_greetings": ["", "Welcome back.", "Hello again, traveller."],
            "card_scenario": long_scenario, "card_tags": "fantasy, forest ,, healer",
            "card_creator_notes": "Edited here.", "card_creator": "someone",
            "card_character_version": "1.3"}  # fmt: skip
    response = writer_client.post(seraphina.get_absolute_url(), form)
    assert response.status_code == 302
    data = writer_client.get(reverse("card_export", args=[seraphina.pk, "v2"])).json()["data"]
    assert data["first_mes"] == "You're safe now." and data["personality"] == "Kind."
    assert data["alternate_greetings"] == ["Welcome back.", "Hello again, traveller."]  # the old one emptied: gone
    assert data["tags"] == ["fantasy", "forest", "healer"] and data["character_version"] == "1.3"
    assert data["scenario"] == long_scenario  # unchanged, so kept whole though longer than a new one may be
    assert data["creator_notes"] == "Edited here." and data["character_book"] == V2["data"]["character_book"]

    too_long = {**form, "card_scenario": "x" * 50_001, "card_first_mes": "Changed?"}
    response = writer_client.post(seraphina.get_absolute_url(), too_long)
    assert response.status_code == 200 and "At most 50,000 characters here." in response.content.decode()
    assert Character.objects.get(pk=seraphina.pk).attributes["card"]["first_mes"] == "You're safe now."
    assert other_client.post(seraphina.get_absolute_url(), form).status_code == 404

    # A character written here gets card fields too, and an export that carries them.
    written = make_character(user, name="Mara")
    writer_client.post(written.get_absolute_url(), {"name": "Mara", "card_first_mes": "Mara looks up."})
    assert writer_client.get(reverse("card_export", args=[written.pk, "v3"])).json()["data"]["first_mes"] == (
        "Mara looks up."
    )
