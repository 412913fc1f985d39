from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from stories.models import Story
from tests.factories import make_chapter, make_story

pytestmark = pytest.mark.django_db


def test_dashboard_lists_my_stories_with_chapters_words_and_last_edit(writer_client, user, other_user):
    story = make_story(user, title="The Lighthouse", genre="Mystery")
    make_chapter(story, content="One two three.")
    make_chapter(story, content="Four five.")
    make_story(other_user, title="Someone else's")
    html = writer_client.get(reverse("dashboard")).content.decode()
    assert "The Lighthouse" in html and "Mystery" in html
    assert "2 chapters" in html and "5 words" in html and "edited" in html
    assert "Someone else" not in html


def test_dashboard_queries_stay_constant_as_stories_grow(writer_client, user, count_queries, django_assert_num_queries):
    make_chapter(make_story(user))
    few = count_queries(lambda: writer_client.get(reverse("dashboard")))
    for _ in range(30):
        story = make_story(user)
        make_chapter(story)
        make_chapter(story)
    with django_assert_num_queries(few):
        writer_client.get(reverse("dashboard"))


def test_creating_a_story_with_generation_settings(writer_client, user):
    response = writer_client.post(
        reverse("story_create"),
        {
            "title": "Salt and Iron", "genre": "Fantasy", "premise": "A smith forges a sword that remembers.",
            "tone": "grim but hopeful", "pov": "first", "tense": "present", "target_words": 3000,
            "images_enabled": "on", "model": "", "dialect": "en-GB", "learn_from_ratings": "on",
        },
    )  # fmt: skip
    story = Story.objects.get(title="Salt and Iron")
    assert response["Location"] == story.get_absolute_url()
    assert story.owner == user
    assert story.generation_settings == {
        "tone": "grim but hopeful", "pov": "first", "tense": "present",
        "target_words": 3000, "images_enabled": True, "image_style": "illustration", "model": "", "dialect": "en-GB",
        "learn_from_ratings": True,
        "dictionary": [],
    }  # fmt: skip


def test_a_story_picks_its_model_from_the_ones_the_site_offers(writer_client, settings):
    settings.LLM_STORY_MODELS = ["qwen2.5", "embedded"]
    page = writer_client.get(reverse("story_create")).content.decode()
    assert '<option value="qwen2.5">qwen2.5</option>' in page and '<option value="embedded">' in page
    fields = {"title": "Costly", "pov": "first", "tense": "past", "target_words": 2000}
    response = writer_client.post(reverse("story_create"), {**fields, "model": "gpt-on-the-site-bill"})
    assert "Select a valid choice" in response.content.decode()
    assert not Story.objects.filter(title="Costly").exists()
    writer_client.post(reverse("story_create"), {**fields, "model": "qwen2.5"})
    assert Story.objects.get(title="Costly").generation_settings["model"] == "qwen2.5"


@pytest.mark.parametrize(
    "title, error",
    [("", "Give the story a title."), ("   ", "Give the story a title."), ("x" * 201, "at most 200 characters")],
)
def test_bad_titles_get_a_clear_error_and_keep_the_rest(writer_client, title, error):
    response = writer_client.post(
        reverse("story_create"),
        {"title": title, "premise": "Kept premise", "pov": "first", "tense": "past", "target_words": 2000},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert error in html
    assert "Kept premise" in html
    assert not Story.objects.exists()


def test_out_of_range_settings_are_refused(writer_client):
    response = writer_client.post(
        reverse("story_create"), {"title": "T", "pov": "sideways", "tense": "past", "target_words": 5}
    )
    assert "Select a valid choice" in response.content.decode()
    assert "greater than or equal to 100" in response.content.decode()


def test_script_in_a_title_is_shown_as_text(writer_client, user):
    make_story(user, title="<script>alert('x')</script>")
    html = writer_client.get(reverse("dashboard")).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_editing_a_story(writer_client, user):
    story = make_story(user, title="Draft title")
    writer_client.post(
        reverse("story_edit", args=[story.pk]),
        {"title": "Final title", "pov": "third_limited", "tense": "past", "target_words": 2500},
    )
    story.refresh_from_db()
    assert story.title == "Final title" and story.generation_settings["target_words"] == 2500


def listed(client, **params):
    return list(client.get(reverse("dashboard"), params).context["stories"])


def test_archiving_moves_a_story_off_the_dashboard_and_back(writer_client, user):
    story = make_story(user, title="Shelved")
    writer_client.post(reverse("story_archive", args=[story.pk]))
    assert listed(writer_client) == []
    assert listed(writer_client, view="archived") == [story]
    writer_client.post(reverse("story_archive", args=[story.pk]))
    assert listed(writer_client) == [story]


def test_delete_asks_first_then_moves_to_trash_and_restore_brings_everything_back(writer_client, user):
    story = make_story(user, title="Oops")
    make_chapter(story, content="Precious words.")
    confirm = writer_client.get(reverse("story_delete", args=[story.pk])).content.decode()
    assert "30 days" in confirm
    writer_client.post(reverse("story_delete", args=[story.pk]))
    assert listed(writer_client) == []
    assert writer_client.get(story.get_absolute_url()).status_code == 404
    assert "Oops" in writer_client.get(reverse("trash")).content.decode()

    writer_client.post(reverse("story_restore", args=[story.pk]))
    story.refresh_from_db()
    assert story.deleted_at is None
    assert story.chapters.get().content == "Precious words."


def test_trash_older_than_30_days_is_gone_for_good(writer_client, user):
    story = make_story(user, title="Ancient")
    Story.objects.filter(pk=story.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    assert writer_client.post(reverse("story_restore", args=[story.pk])).status_code == 404
    writer_client.get(reverse("trash"))
    assert not Story.objects.filter(pk=story.pk).exists()


def test_a_story_without_chapters_invites_the_first_one(writer_client, user):
    story = make_story(user)
    html = writer_client.get(story.get_absolute_url()).content.decode()
    assert "Add the first chapter" in html


def test_editing_a_chapter_moves_the_story_to_the_top_of_the_dashboard(writer_client, user):
    older, newer = make_story(user, title="Older"), make_story(user, title="Newer")
    chapter = make_chapter(older)
    chapter.save_content("Fresh words.", base_version=chapter.version)
    stories = list(writer_client.get(reverse("dashboard")).context["stories"])
    assert stories[0] == older and stories[1] == newer


def test_long_lists_are_paginated(writer_client, user):
    for n in range(30):
        make_story(user, title=f"Tale {n:02}")
    first = writer_client.get(reverse("dashboard")).content.decode()
    assert first.count('class="card story-card') == 24 and "Page 1 of 2" in first and "?page=2" in first
    second = writer_client.get(reverse("dashboard"), {"page": "2"}).content.decode()
    assert second.count('class="card story-card') == 6 and 'rel="prev"' in second
    assert writer_client.get(reverse("dashboard"), {"page": "abc"}).status_code == 200  # the first page
    archived = writer_client.get(reverse("dashboard"), {"view": "archived", "page": "9"})
    assert archived.status_code == 200


def test_no_template_comment_reaches_the_page(writer_client, user):
    # Django's {# #} comments end at the line; a longer one would be printed into every page.
    html = writer_client.get(reverse("dashboard")).content.decode()
    assert "{#" not in html and "#}" not in html and "{%" not in html


def test_an_empty_story_counts_no_words_and_the_bible_names_the_point_of_view(writer_client, user):
    story = make_story(user, generation_settings={"pov": "third_limited"})
    html = writer_client.get(reverse("story_detail", args=[story.pk])).content.decode()
    assert '<span id="story-words">0</span> words in 0 chapters' in html
    bible = writer_client.get(reverse("story_bible", args=[story.pk])).content.decode()
    assert "Third person limited" in bible and "Thirdlimited" not in bible
