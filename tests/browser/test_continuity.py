"""Checking a hand-written chapter from the editor: the check runs on a worker, its findings arrive over the
websocket, and a finding selects its passage in the text."""

import pytest
from playwright.sync_api import expect

from tests import judge
from tests.factories import cast, make_chapter, make_character, make_story, make_user
from tests.httpserver import LocalServer
from tests.llm_servers import serve_ollama

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRST = "Mara kept the ledger at the mill. Mara counted the sacks twice. Everyone trusted Mara with the keys."
SECOND = "The flood came at night. By morning Marra had moved the ledger to the loft, and the sacks with it."


@pytest.fixture
def judge_ollama():
    server = serve_ollama(LocalServer(), reply=judge.reply)
    yield server
    server.close()


@pytest.fixture
def worker_env(judge_ollama):
    return {"LLM_PROVIDER": "ollama", "OLLAMA_HOST": judge_ollama.url, "GENERATION_SLOTS": "1", "LLM_RETRIES": "0"}


def checked_chapter(web_page, start_worker):
    """A writer's second chapter, checked from the editor on a worker: the page, and the task's panel when done."""
    writer = make_user()
    story = make_story(writer, title="The Mill")
    make_chapter(story, title="The Ledger", content=FIRST)
    chapter = make_chapter(story, title="The Flood", content=SECOND)
    cast(story, make_character(writer, name="Mara"), role="protagonist", importance=9)
    page = web_page(writer)
    page.goto(chapter.get_absolute_url())
    page.click("text=Write with the AI team")
    page.click("text=Check continuity")
    start_worker()
    panel = page.locator(".task-panel")
    expect(panel.locator("[data-task-status]")).to_have_text("Succeeded")
    return page, panel


def test_a_writer_checks_a_chapter_and_a_finding_selects_its_passage(web_page, start_worker, screenshot):
    page, panel = checked_chapter(web_page, start_worker)
    expect(panel).to_contain_text("Continuity check of the whole chapter")
    expect(panel).to_contain_text("“Marra” appears 1 time(s); the story spells it “Mara”")
    expect(panel.locator("[data-check-run=ran]")).to_have_count(5)
    screenshot(page, "14-continuity-check")

    finding = panel.locator("[data-grammar-match][data-original=Marra]")
    finding.locator("text=Show in the text").click()
    selected = page.evaluate(
        "() => { const t = document.querySelector('#id_content');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected == "Marra"
    expect(finding.locator("a", has_text="The Ledger")).to_have_count(1)  # the cited earlier chapter


@pytest.mark.parametrize("worker_env", [{"LLM_PROVIDER": "embedded", "GENERATION_SLOTS": "1"}])
def test_with_the_built_in_model_the_report_says_what_it_skipped_without_overlapping(
    web_page, start_worker, screenshot, worker_env
):
    page, panel = checked_chapter(web_page, start_worker)
    expect(panel.locator("[data-check-run=skipped]")).to_have_count(2)  # facts need a capable model
    expect(panel.locator("[data-check-run=skipped]").first).to_contain_text("needs a capable model")
    screenshot(page, "15-continuity-built-in")
    boxes = [item.bounding_box() for item in panel.locator("[data-check-run]").all()]
    for upper, lower in zip(boxes, boxes[1:], strict=False):
        assert upper["y"] + upper["height"] <= lower["y"] + 0.5  # each line of the report clear of the next
    noted = panel.locator("[data-check-run]:has(.check-note)").all()
    assert noted
    for item in noted:  # a note stays inside its own line of the report, clear of the lines around it
        line, note = item.bounding_box(), item.locator(".check-note").bounding_box()
        assert line["y"] - 0.5 <= note["y"] and note["y"] + note["height"] <= line["y"] + line["height"] + 0.5
