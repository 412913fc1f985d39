"""Characters like this one: each character's profile embedding, the writer's closest other characters with the
reasons, and the cast page's warning about two characters of one story written alike."""

import pytest
from django.urls import reverse

from agents.memory.store import story_evidence, sync_profile
from agents.services.embeddings import DIMENSIONS
from agents.tasks import queue_unread_profiles, sync_chapter_memory, sync_character_memory, sync_character_profile
from characters.likeness import LOOK_ALIKE
from characters.models import PROFILE_DIMENSIONS, Character, StoryCharacter
from core.queues import get_queue
from tests.factories import cast, make_chapter, make_character, make_story

pytestmark = pytest.mark.django_db

CAPTAIN = {
    "appearance": "Weathered face, salt-white beard, a missing finger on the right hand.",
    "personality": "Stubborn, loyal to her crew, distrustful of merchants, fearless in storms.",
    "goals": "Pay off the ship before the harbour guild seizes it.",
    "speech_pattern": "Gruff orders, nautical slang, curses the weather.",
    "backstory": "Went to sea at twelve and took command after a mutiny.",
}
CAPTAIN_AGAIN = {  # the same person written twice, a few words changed
    "appearance": "Weathered face, salt-white beard, a missing finger on the left hand.",
    "personality": "Stubborn, loyal to his crew, distrustful of merchants, fearless in storms.",
    "goals": "Pay off the ship before the harbour guild takes it.",
    "speech_pattern": "Gruff orders, nautical slang, curses the weather.",
    "backstory": "Went to sea at thirteen and took command after a mutiny.",
}
BAKER = {
    "appearance": "Round cheeks dusted with flour, spectacles on a chain.",
    "personality": "Cheerful gossip, anxious about money, generous to children.",
    "goals": "Win the village fair's pie contest at last.",
    "speech_pattern": "Chatters, asks questions without waiting for answers.",
    "backstory": "Inherited the bakery from an aunt.",
}
SCHOLAR = {
    "appearance": "Ink-stained fingers, thin, always cold.",
    "personality": "Precise, proud, secretly lonely, stubborn about footnotes.",
    "goals": "Decipher the drowned monastery's ledger.",
    "speech_pattern": "Long formal sentences, quotes old authors.",
    "backstory": "Expelled from the university for a forged citation.",
}


def profiled(owner, name, profile) -> Character:
    character = make_character(owner, name=name, **profile)
    sync_profile(character)
    return character


def test_the_profile_is_embedded_once_and_again_when_it_changes(user):
    mara = make_character(user, name="Mara", **CAPTAIN)
    assert mara.profile_hash == "" and mara.profile_embedding is None
    assert sync_profile(mara) is True
    stored = Character.objects.get(pk=mara.pk)
    assert len(stored.profile_embedding) == PROFILE_DIMENSIONS == DIMENSIONS
    assert sync_profile(stored) is False  # unchanged: not embedded again
    stored.goals = "Find the wreck of her first ship."
    stored.save()
    assert sync_profile(stored) is True
    assert list(Character.objects.get(pk=mara.pk).profile_embedding) != list(mara.profile_embedding)


def test_an_empty_profile_is_read_but_has_nothing_to_compare(user):
    blank = make_character(user, name="Nobody yet")
    assert sync_profile(blank) is False
    blank.refresh_from_db()
    assert blank.profile_hash != "" and blank.profile_embedding is None
    assert blank.characters_like() == []


def test_the_closest_of_the_writers_own_characters_come_first_with_reasons(user, other_user):
    mara = profiled(user, "Mara", CAPTAIN)
    tomas = profiled(user, "Tomas", CAPTAIN_AGAIN)
    profiled(user, "Ilse", BAKER)
    profiled(user, "Quillon", SCHOLAR)
    profiled(other_user, "Someone else's captain", CAPTAIN)  # closer than anyone, but not this writer's
    story, other_story = make_story(user), make_story(user)
    cast(story, mara, role=StoryCharacter.Role.PROTAGONIST)
    cast(other_story, tomas, role=StoryCharacter.Role.PROTAGONIST)

    like = mara.characters_like()
    assert [c.name for c in like][0] == "Tomas"
    assert {c.name for c in like} == {"Tomas", "Ilse", "Quillon"}
    assert [c.similarity for c in like] == sorted((c.similarity for c in like), reverse=True)
    assert like[0].similarity >= LOOK_ALIKE
    reasons = like[0].reasons
    assert "both protagonist" in reasons
    assert any(r.startswith("traits: ") and "stubborn" in r for r in reasons)
    assert any(r.startswith("voice: ") and "gruff" in r for r in reasons)
    scholar = next(c for c in like if c.name == "Quillon")
    assert "traits: stubborn" in scholar.reasons  # the one trait they share, and no role


def test_a_shared_name_alone_does_not_make_two_characters_alike(user):
    captain = profiled(user, "Mara", CAPTAIN)
    baker = profiled(user, "Mara", BAKER)
    tomas = profiled(user, "Tomas", CAPTAIN_AGAIN)
    like = {c.pk: c.similarity for c in captain.characters_like()}
    assert like[tomas.pk] > like[baker.pk]
    assert like[baker.pk] < LOOK_ALIKE


def test_the_character_page_lists_characters_like_this_one(writer_client, user, other_client):
    mara = profiled(user, "Mara", CAPTAIN)
    tomas = profiled(user, "Tomas", CAPTAIN_AGAIN)
    page = writer_client.get(mara.get_absolute_url()).content.decode()
    assert "Characters like this one" in page
    assert f'data-similar="{tomas.pk}"' in page and "% alike" in page
    assert other_client.get(mara.get_absolute_url()).status_code == 404


def test_the_character_page_says_when_the_profile_is_still_being_read(writer_client, user):
    mara = make_character(user, name="Mara", **CAPTAIN)
    assert "Reading the profile" in writer_client.get(mara.get_absolute_url()).content.decode()


def test_the_cast_page_warns_of_two_characters_written_alike(writer_client, user, other_client):
    story = make_story(user)
    mara, tomas = profiled(user, "Mara", CAPTAIN), profiled(user, "Tomas", CAPTAIN_AGAIN)
    ilse = profiled(user, "Ilse", BAKER)
    for character in (mara, tomas, ilse):
        cast(story, character)
    url = reverse("story_cast", args=[story.pk])
    page = writer_client.get(url).content.decode()
    assert page.count("data-look-alike") == 1
    warning = page[page.index("data-look-alike") :].split("</p>")[0]
    assert "Mara" in warning and "Tomas" in warning and "Ilse" not in warning
    assert other_client.get(url).status_code == 404

    StoryCharacter.objects.filter(character=tomas).delete()
    assert "data-look-alike" not in writer_client.get(url).content.decode()


def test_characters_never_read_are_queued_for_a_sync(user, redis_conn, django_capture_on_commit_callbacks):
    waiting = make_character(user, name="Mara", **CAPTAIN)
    profiled(user, "Tomas", CAPTAIN_AGAIN)
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_unread_profiles() == 1
    assert f"{sync_character_memory.__name__}-{waiting.pk}" in get_queue("background").job_ids


def test_the_cast_page_names_the_ten_closest_pairs_and_counts_the_rest(writer_client, user):
    story = make_story(user)
    for n in range(6):  # six copies of one person: fifteen pairs
        cast(story, profiled(user, f"Copy {n}", CAPTAIN))
    page = writer_client.get(reverse("story_cast", args=[story.pk])).content.decode()
    assert page.count("data-look-alike>") == 10
    assert "… and 5 more pairs" in page


def test_what_the_chapters_show_of_a_character_joins_their_profile_without_their_name(
    user, redis_conn, django_capture_on_commit_callbacks
):
    story = make_story(user)
    mara, tomas = make_character(user, name="Mara Vell", **CAPTAIN), make_character(user, name="Tomas")
    cast(story, mara)
    cast(story, tomas)
    chapter = make_chapter(story, content=(
        "Mara laughed at the storm and lashed herself to the wheel.\n\n"
        "“Hoist the sail, you lubbers, or swim home!” Mara shouted.\n\n"
        "“We will drown,” Tomas said, and Mara did not answer him."
    ))  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        sync_chapter_memory(chapter.pk)
    assert f"{sync_character_profile.__name__}-{mara.pk}" in get_queue("background").job_ids

    evidence = story_evidence(mara)
    assert "Says: Hoist the sail, you lubbers, or swim home!" in evidence
    assert "laughed at the storm and lashed herself to the wheel." in evidence
    assert "We will drown" not in evidence  # Tomas's line: two people named in that paragraph
    assert "Mara" not in evidence and "Vell" not in evidence
    assert sync_character_profile(mara.pk) is True
    assert sync_character_profile(mara.pk) is False  # nothing changed: not embedded again
    chapter.content = chapter.content.replace("laughed at the storm", "wept in the storm")
    chapter.save()
    sync_chapter_memory(chapter.pk)
    assert sync_character_profile(mara.pk) is True
