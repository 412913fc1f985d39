import pytest
from django.urls import reverse

from core.models import User
from generation.models import GenerationTask
from stories.models import Story
from tests.factories import make_story, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator_client(client):
    moderator = make_user("mod@example.com", is_staff=True, is_superuser=True)
    client.force_login(moderator)
    return client


def test_a_non_staff_user_cannot_reach_admin(writer_client):
    response = writer_client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert writer_client.get(reverse("admin:stories_story_changelist")).status_code == 302


def test_every_model_has_an_admin_page(moderator_client):
    for name in [
        "storyassistant_user", "stories_story", "stories_chapter", "stories_chapterrevision", "stories_worldentry",
        "characters_character", "characters_storycharacter", "characters_characterrelationship",
        "generation_generationtask",
    ]:  # fmt: skip
        assert moderator_client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name


def test_moderator_deactivates_a_user(moderator_client):
    troll = make_user("troll@example.com")
    response = moderator_client.post(
        reverse("admin:storyassistant_user_changelist"),
        {"action": "deactivate", "_selected_action": [str(troll.pk)]},
    )
    assert response.status_code == 302
    troll.refresh_from_db()
    assert not troll.is_active


def test_moderator_hides_a_story_with_a_reason_and_its_owner_sees_why(moderator_client, client):
    owner = make_user("owner@example.com")
    story = make_story(owner, title="Questionable tale")
    moderator_client.post(
        reverse("admin:stories_story_changelist"),
        {"action": "flag_stories", "_selected_action": [str(story.pk)], "reason": "Copied from a published novel"},
    )
    story.refresh_from_db()
    assert story.is_flagged and story.flag_reason == "Copied from a published novel"
    assert story.flagged_by.email == "mod@example.com"

    client.force_login(owner)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "Hidden by moderators" in dashboard and "Copied from a published novel" in dashboard
    opened = client.get(story.get_absolute_url())
    assert opened.status_code == 403
    assert "Copied from a published novel" in opened.content.decode()


def test_hiding_without_a_reason_changes_nothing(moderator_client):
    story = make_story(make_user())
    moderator_client.post(
        reverse("admin:stories_story_changelist"),
        {"action": "flag_stories", "_selected_action": [str(story.pk)], "reason": ""},
    )
    story.refresh_from_db()
    assert not story.is_flagged


def test_a_flagged_story_is_invisible_to_other_users(other_client):
    story = make_story(make_user())
    story.flag("Spam")
    assert other_client.get(story.get_absolute_url()).status_code == 404


def test_moderator_unhides_a_story(moderator_client):
    story = make_story(make_user())
    story.flag("Mistake")
    moderator_client.post(
        reverse("admin:stories_story_changelist"), {"action": "unflag_stories", "_selected_action": [str(story.pk)]}
    )
    assert not Story.objects.get(pk=story.pk).is_flagged


def test_moderator_browses_generations_with_ratings(moderator_client):
    writer = make_user()
    story = make_story(writer)
    entry = GenerationTask.objects.create(
        user=writer, story=story, status="succeeded", result_content="Once upon a time", user_rating=4,
        model_name="llama3.1",
    )  # fmt: skip
    page = moderator_client.get(reverse("admin:generation_generationtask_changelist"), {"user_rating": 4})
    assert page.status_code == 200
    assert str(story) in page.content.decode() and "llama3.1" in page.content.decode()
    detail = moderator_client.get(reverse("admin:generation_generationtask_change", args=[entry.pk]))
    assert "Once upon a time" in detail.content.decode()


def test_user_pk_is_a_uuid():
    assert len(str(make_user().pk)) == 36
    assert User._meta.pk.get_internal_type() == "UUIDField"
