"""Asking the AI team for a chapter in the workspace: it streams in live, then the writer accepts it."""

import pytest
from playwright.sync_api import expect

from generation.models import GenerationTask
from tests.conftest import PROSE
from tests.factories import make_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_chapter_streams_into_the_workspace_and_is_accepted(web_page, start_worker, writer_story, screenshot):
    writer, story, chapter = writer_story
    page = web_page(writer)
    page.goto(chapter.get_absolute_url())

    page.click("text=Write with the AI team")
    page.select_option("#ai-mode", "next_chapter")
    page.fill("#ai-note", "Mara relights the lamp.")
    page.click("text=Ask the team")
    panel = page.locator(".task-panel")
    expect(panel.locator("[data-task-status]")).to_have_text("Queued")
    start_worker()  # the page is already subscribed: everything from here arrives over the websocket

    draft = panel.locator(".draft")
    expect(draft).to_contain_text("Mara climbed the lighthouse stairs")
    expect(panel.locator("[data-task-status]")).to_have_text("Succeeded")
    expect(draft).to_have_text(PROSE)
    expect(panel.locator(".qa-report")).to_contain_text("Quality check: pass")
    screenshot(page, "12-generation")

    page.click("text=Add as a new chapter")
    expect(page.locator("#id_content")).to_have_value(PROSE)
    expect(page.locator(".chapter-item .chapter-title-text")).to_have_count(2)
    task = GenerationTask.objects.get()
    assert task.proposal_status == "accepted" and task.request["note"] == "Mara relights the lamp."


def test_a_writer_with_a_full_queue_is_told_so_and_the_page_stays(web_page, writer_story, settings):
    writer, story, chapter = writer_story
    elsewhere = make_story(writer, title="Another story")  # waiting there, so this chapter's page is as usual
    for _ in range(settings.GENERATION_QUEUE_PER_USER):
        GenerationTask.objects.create(user=writer, story=elsewhere)
    page = web_page(writer)
    page.goto(chapter.get_absolute_url())
    page.click("text=Write with the AI team")
    page.fill("#ai-note", "One more.")
    page.click("text=Ask the team")
    expect(page.locator("#refusals")).to_contain_text("requests waiting or running")
    expect(page.locator("#ai-note")).to_have_value("One more.")  # nothing on the page was replaced
    assert GenerationTask.objects.filter(user=writer).count() == settings.GENERATION_QUEUE_PER_USER
