"""A writer imports a Word manuscript: a real RQ worker reads it (the page follows along), the split is previewed,
then the worker makes the chapters and the story's memory fills in the background, shown by a progress bar that
updates itself."""

import io

import docx
import pytest
from playwright.sync_api import expect

from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def manuscript() -> bytes:
    document = docx.Document()
    for number, opening in enumerate(["Mara climbed the lighthouse stairs.", "The storm broke at midnight."], 1):
        document.add_heading(f"Chapter {number}", level=1)
        paragraph = document.add_paragraph(opening + " She ")
        paragraph.add_run("did not").italic = True
        paragraph.add_run(" look down.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_writer_imports_a_docx_and_sees_its_chapters(web_page, start_worker, tmp_path, screenshot):
    writer = make_user()
    path = tmp_path / "The Keeper.docx"
    path.write_bytes(manuscript())
    page = web_page(writer)
    start_worker()
    page.goto("/")
    page.click("text=Import a manuscript")
    page.set_input_files("#manuscript", str(path))
    page.click("text=Read the manuscript")

    expect(page.locator(".messages")).to_contain_text("Read 24 words from “The Keeper.docx”")
    expect(page.locator("[data-parts]")).to_have_attribute("data-parts", "2")
    expect(page.locator(".import-parts")).to_contain_text("Mara climbed the lighthouse stairs. She *did not* look")
    screenshot(page, "17-import-preview")
    page.fill("#title", "The Keeper")
    page.click("text=Import the chapters not left out")
    expect(page.locator("main")).to_contain_text("Imported 2 chapters into The Keeper")
    # The progress bar polls until every chapter is in the story's memory.
    expect(page.locator("#import-progress")).to_have_attribute("data-memory-done", "2", timeout=90_000)
    screenshot(page, "18-import-done")

    page.get_by_role("link", name="The Keeper", exact=True).click()
    expect(page.locator("body")).to_contain_text("Chapter 2")
