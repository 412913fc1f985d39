"""Browsing one's own work: the story bible's patterns read by a real worker, the style report's charts and
recommendations, and scenes between two characters from the relationships page."""

import pytest
from playwright.sync_api import expect

from agents.memory.store import sync_chapter
from tests.factories import cast, make_chapter, make_character, make_story, make_user, relate
from tests.test_story_patterns import AFFAIR, SACRIFICE
from tests.test_style_report import ADVERBS, PLAIN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_writer_finds_patterns_style_and_scenes_in_their_story(web_page, start_worker, screenshot):
    writer = make_user()
    story = make_story(writer, title="The Bridge")
    mira, arlen = make_character(writer, name="Mira"), make_character(writer, name="Arlen")
    cast(story, mira)
    cast(story, arlen)
    relate(mira, arlen)
    for title, text in (("Letters", AFFAIR + "\n\n" + PLAIN * 3), ("The Bridge", SACRIFICE + "\n\n" + ADVERBS * 3)):
        sync_chapter(make_chapter(story, title=title, content=text))
    page = web_page(writer)

    page.goto(f"/stories/{story.pk}/bible/")
    page.click("text=Look for patterns")
    start_worker()
    expect(page.locator("body")).to_contain_text("Looking for patterns in the story")
    for _ in range(60):  # the reading runs on the worker; the bible shows it once done
        page.reload()
        if page.locator('[data-pattern="heroic-sacrifice"]').count():
            break
        page.wait_for_timeout(1000)
    expect(page.locator('[data-pattern="heroic-sacrifice"]')).to_contain_text("Heroic Sacrifice")
    page.locator("#patterns").scroll_into_view_if_needed()
    screenshot(page, "discovery-bible-patterns")

    page.click("nav >> text=Style")
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator("#recommendations")).to_contain_text("The Bridge")
    screenshot(page, "discovery-style-report")

    page.goto(f"/stories/{story.pk}/relationships/")
    page.click("[data-scenes-between]")
    expect(page.locator("[data-scene]").first).to_contain_text("Arlen")
    screenshot(page, "discovery-scenes-between")
