"""The demo account starts with a sample story that fills every page, once."""

import pytest
from django.test import Client
from django.urls import reverse

from storyassistant.management.commands.serve import Command
from storyassistant.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_account_gets_a_sample_story_that_fills_every_page(settings):
    Command().ensure_demo_account()
    Command().ensure_demo_account()  # a restart does not add it again
    user = User.objects.get(email=settings.DEMO_EMAIL)
    story = user.stories.get()
    assert story.chapters.count() == 3 and story.cast.count() == 3 and story.world_entries.count() == 4
    client = Client()
    client.force_login(user)
    pages = {
        "story_detail": ["The Dark Tower", "The Logbooks"],
        "story_bible": ["Who drained the lamp", "Resolved to enter the sea caves", "Third person limited"],
        "story_cast": ["Mara Vell", "Old Ness"],
        "story_relationships": ["Tomas Reed", "Mentor"],
        "world_list": ["The Sea Fire", "Keys: sea fire, green flame"],
    }
    for name, expected in pages.items():
        page = client.get(reverse(name, args=[story.pk]), follow=True).content.decode()
        for text in expected:
            assert text in page, (name, text)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "The Keeper of Greyhaven" in dashboard and " 0 chapters" not in dashboard
