"""Every story, chapter, revision, world, cast, character and export URL is a 404 for anyone but the owner."""

import pytest
from django.urls import reverse

from agents.models import Fact, IgnoredFinding
from tests.factories import cast, make_chapter, make_character, make_story, make_world_entry, relate


@pytest.fixture
def owned(user):
    story = make_story(user)
    chapter = make_chapter(story, content="Private words.")
    hero, rival = make_character(user, name="Hero"), make_character(user, name="Rival")
    member = cast(story, hero)
    cast(story, rival)
    relationship = relate(hero, rival)
    entry = make_world_entry(story)
    revision = chapter.revisions.get()
    return {
        "story": story.pk,
        "chapter": chapter.pk,
        "revision": revision.pk,
        "entry": entry.pk,
        "character": hero.pk,
        "member": member.pk,
        "relationship": relationship.pk,
        "ignored": IgnoredFinding.objects.create(story=story, fingerprint="f1", kind="genre", message="Weak fit.").pk,
        "fact": Fact.objects.create(
            story=story, chapter=chapter, subject="Hero", attribute="age", value="forty", quote="Private words."
        ).pk,
    }


def urls(o):
    s, c = o["story"], o["chapter"]
    gets = [
        ("story_detail", [s]), ("story_edit", [s]), ("story_delete", [s]), ("story_bible", [s]),
        ("story_export", [s]), ("story_export_markdown", [s]), ("story_export_epub", [s]),
        ("chapter_edit", [s, c]), ("chapter_delete", [s, c]), ("revision_list", [s, c]),
        ("revision_detail", [s, c, o["revision"]]), ("world_list", [s]), ("world_edit", [s, o["entry"]]),
        ("world_delete", [s, o["entry"]]), ("character_detail", [o["character"]]),
        ("character_delete", [o["character"]]), ("story_cast", [s]), ("story_relationships", [s]),
        ("relationship_graph_svg", [s]), ("story_search", [s]),
    ]  # fmt: skip
    posts = [
        ("story_archive", [s]), ("story_delete", [s]), ("story_restore", [s]), ("story_edit", [s]),
        ("chapter_create", [s]), ("chapter_save", [s, c]), ("chapter_rename", [s, c]), ("chapter_move", [s, c]),
        ("chapter_reorder", [s]), ("chapter_delete", [s, c]), ("revision_restore", [s, c, o["revision"]]),
        ("world_list", [s]), ("world_edit", [s, o["entry"]]), ("world_delete", [s, o["entry"]]),
        ("character_detail", [o["character"]]), ("character_delete", [o["character"]]), ("story_cast", [s]),
        ("cast_update", [s, o["member"]]), ("cast_remove", [s, o["member"]]), ("story_relationships", [s]),
        ("relationship_delete", [s, o["relationship"]]), ("chapter_continuity", [s, c]),
        ("finding_restore", [s, o["ignored"]]), ("chapter_grammar", [s, c]), ("fact_edit", [s, o["fact"]]),
        ("relationship_change_apply", [s, c]), ("dictionary_add", [s]),
    ]  # fmt: skip
    return [("get", reverse(name, args=args)) for name, args in gets] + [
        ("post", reverse(name, args=args)) for name, args in posts
    ]


def test_other_user_gets_404_everywhere_and_changes_nothing(owned, other_client, writer_client):
    for method, url in urls(owned):
        response = getattr(other_client, method)(url, {"title": "Hijacked", "content": "x", "base_version": 1})
        assert response.status_code == 404, f"{method.upper()} {url} gave {response.status_code}"
    # The owner's things are all still there, unchanged.
    page = writer_client.get(reverse("chapter_edit", args=[owned["story"], owned["chapter"]]))
    assert page.status_code == 200
    assert "Private words." in page.content.decode()
    assert "Hijacked" not in page.content.decode()


def test_owner_can_open_every_page(owned, writer_client):
    for method, url in urls(owned):
        if method == "get":
            assert writer_client.get(url, follow=True).status_code == 200, url


def test_anonymous_visitors_are_sent_to_login(owned, client):
    for method, url in urls(owned):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_another_users_character_cannot_join_my_cast(user, other_user, writer_client):
    story = make_story(user)
    stranger = make_character(other_user, name="Stranger")
    response = writer_client.post(
        reverse("story_cast", args=[story.pk]), {"character": stranger.pk, "role": "supporting", "importance": 5}
    )
    assert response.status_code == 400
    assert not story.cast.exists()
