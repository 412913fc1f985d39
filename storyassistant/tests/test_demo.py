"""The demo account (make run's --demo only) starts with a sample story that fills every page, once; its password
is made for the install unless DEMO_PASSWORD is set."""

import pytest
from django.test import Client
from django.urls import reverse

from core.models import User
from storyassistant.management.commands.serve import Command

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.DEMO_PASSWORD = ""
    return tmp_path


def test_the_demo_password_is_made_for_the_install_and_kept_private(settings, var_dir):
    email, password = Command().ensure_demo_account()
    assert email == settings.DEMO_EMAIL and len(password) >= 16 and password != "storyassistant-demo"
    assert (var_dir / "demo_password").read_text() == password and (
        var_dir / "demo_password"
    ).stat().st_mode & 0o077 == 0
    assert Command().ensure_demo_account() == (email, password)  # the same at the next start
    user = User.objects.get(email=email)
    assert user.check_password(password)
    user.set_password("the-writers-own-choice-9")
    user.save()
    assert Command().ensure_demo_account() == (email, "(the password you set)")


def test_a_set_demo_password_is_used(settings):
    settings.DEMO_PASSWORD = "chosen-by-the-operator-7"
    assert Command().ensure_demo_account()[1] == "chosen-by-the-operator-7"


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


def test_serve_makes_no_demo_account_unless_asked():
    parser = Command().create_parser("manage.py", "serve")
    assert parser.parse_args([]).demo is False and parser.parse_args(["--demo"]).demo is True
