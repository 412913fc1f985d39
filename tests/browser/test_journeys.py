"""The writer's main journeys, end to end in Chromium."""

import io
import re
import zipfile

import pytest
from playwright.sync_api import expect

from stories.models import CONFLICT_NOTE, Chapter, Story
from tests.factories import PASSWORD, make_chapter, make_story, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAVED = re.compile(r"^Saved \d\d:\d\d$")


def write(page, text):
    """Type into the editor like a writer and wait until the autosave says it is saved."""
    page.fill("#id_content", text)
    expect(page.locator("[data-save-status]")).to_have_text(SAVED)


def test_from_sign_in_to_a_finished_story_with_cast_world_history_and_epub(new_page, screenshot):
    make_user("writer@example.com")
    page = new_page()

    # Sign in with email and password.
    page.goto("/")
    page.fill("#id_login", "writer@example.com")
    page.fill("#id_password", PASSWORD)
    screenshot(page, "01-sign-in")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="No stories yet")).to_be_visible()
    screenshot(page, "02-dashboard-empty")

    # A new story with its generation settings.
    page.click("text=Start your first story")
    page.fill("#id_title", "The Keeper of Greyhaven")
    page.fill("#id_genre", "Fantasy")
    page.fill("#id_premise", "A lighthouse keeper finds a map inside a bottle.")
    page.fill("#id_tone", "wistful")
    page.select_option("#id_pov", "first")
    page.click("text=Create story")
    page.click("text=Add the first chapter")

    # Three chapters, written in the editor with autosave.
    page.fill("#id_title", "The Bottle")
    write(page, "The bottle washed up at dawn.\n\nInside was a map of Greyhaven.")
    for title, text in [("The Map", "The map showed a tower that was not there."), ("The Tower", "It was there.")]:
        page.fill("#new-chapter-title", title)
        page.click("text=Add chapter")
        expect(page.locator("#id_title")).to_have_value(title)
        write(page, text)
    sidebar = page.locator(".chapter-item .chapter-title-text")
    expect(sidebar).to_have_text(["The Bottle", "The Map", "The Tower"])
    expect(page.locator("#story-words")).to_have_text("24")
    screenshot(page, "03-editor")

    # Reorder with the buttons (an htmx swap of the sidebar), then put it back.
    page.get_by_label("Move “The Tower” up").click()
    expect(sidebar).to_have_text(["The Bottle", "The Tower", "The Map"])
    page.get_by_label("Move “The Tower” down").click()
    expect(sidebar).to_have_text(["The Bottle", "The Map", "The Tower"])

    # A cast of two and a relationship, drawn as a graph.
    page.click("nav.tabs >> text=Cast")
    for name, appearance in [("Mara", "Grey eyes, salt-white hair."), ("Tomas", "A scar across his chin.")]:
        page.click("text=Create a new character")
        page.fill("#id_name", name)
        page.fill("#id_appearance", appearance)
        page.click("text=Create character")
        expect(page.get_by_role("link", name=name)).to_be_visible()
    page.select_option("#role-1", "protagonist") if page.locator("#role-1").count() else None
    screenshot(page, "04-cast")
    page.click("nav.tabs >> text=Relationships")
    page.select_option("#id_source", label="Mara")
    page.select_option("#id_kind", "rival")
    page.select_option("#id_target", label="Tomas")
    page.fill("#id_strength", "8")
    page.fill("#id_description", "Both want the map.")
    page.click("button:has-text('Add relationship')")
    expect(page.locator("svg.relationship-graph g.node")).to_have_count(2)
    expect(page.locator("svg.relationship-graph g.edge title")).to_have_text("Mara → Tomas: Rival 8")
    screenshot(page, "05-relationships")

    # The world, searched as you type.
    page.click("nav.tabs >> text=World")
    for kind, name, description in [
        ("location", "Greyhaven", "A harbour town of grey stone."),
        ("item", "The Albatross", "A ship that never sinks."),
    ]:
        page.select_option("#id_kind", kind)
        page.fill("#id_name", name)
        page.fill("#id_description", description)
        page.click("text=Add entry")
    page.fill("#world-q", "albatross")
    expect(page.locator("#world-results")).not_to_contain_text("Greyhaven")
    expect(page.locator("#world-results")).to_contain_text("The Albatross")
    screenshot(page, "06-world")

    # Edit a chapter, then restore the earlier version from its history.
    page.click("nav.tabs >> text=Write")
    expect(page.locator("#id_title")).to_have_value("The Bottle")
    write(page, "A rewrite I will regret.")
    page.click("text=History")
    page.locator("text=View & compare").nth(1).click()
    expect(page.locator(".diff ins", has_text="bottle washed up")).to_be_visible()
    expect(page.locator(".diff del", has_text="A rewrite I will regret.")).to_be_visible()
    screenshot(page, "07-revision")
    page.click("text=Restore this version")
    expect(page.locator("#id_content")).to_have_value("The bottle washed up at dawn.\n\nInside was a map of Greyhaven.")

    # The story bible, then the EPUB.
    page.click("nav.tabs >> text=Story bible")
    expect(page.locator(".bible")).to_contain_text("Both want the map.")
    screenshot(page, "08-bible")
    page.click("nav.tabs >> text=Export")
    with page.expect_download() as download:
        page.click("text=EPUB e-book")
    book = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes()))
    assert book.read("mimetype") == b"application/epub+zip"
    assert [n for n in book.namelist() if n.startswith("OEBPS/chapter-")] == [
        "OEBPS/chapter-1.xhtml",
        "OEBPS/chapter-2.xhtml",
        "OEBPS/chapter-3.xhtml",
    ]
    assert "Inside was a map of Greyhaven." in book.read("OEBPS/chapter-1.xhtml").decode()

    # Back on the dashboard: the story with its chapters and words.
    page.click("a.brand")
    expect(page.locator(".story-card")).to_contain_text("3 chapters")
    screenshot(page, "09-dashboard")


def test_the_same_chapter_in_two_tabs_never_loses_either_text(new_page, screenshot):
    writer = make_user()
    chapter = make_chapter(make_story(writer), title="Shared", content="Original.")
    first, second = new_page(writer), new_page(writer)
    first.goto(chapter.get_absolute_url())
    second.goto(chapter.get_absolute_url())

    write(first, "Written in the first tab.")
    second.fill("#id_content", "Written in the second tab.")
    expect(second.locator("[data-save-status]")).to_have_text("Not saved — conflict")
    expect(second.locator("[data-conflict]")).to_contain_text("changed in another tab or device")
    expect(second.locator("#id_content")).to_have_value("Written in the second tab.")
    screenshot(second, "10-conflict")
    chapter.refresh_from_db()
    assert chapter.content == "Written in the first tab."
    assert chapter.revisions.get(note=CONFLICT_NOTE).content == "Written in the second tab."

    second.click("text=Keep my version")
    expect(second.locator("[data-save-status]")).to_have_text(SAVED)
    chapter.refresh_from_db()
    assert chapter.content == "Written in the second tab."
    assert chapter.revisions.filter(content="Written in the first tab.").exists()


def test_losing_the_network_keeps_the_text_and_saves_it_when_back(new_page):
    writer = make_user()
    chapter = make_chapter(make_story(writer), content="Before the storm.")
    page = new_page(writer)
    page.goto(chapter.get_absolute_url())

    page.context.set_offline(True)
    page.fill("#id_content", "Written while the network was down.")
    expect(page.locator("[data-save-status]")).to_contain_text("Offline — not saved")
    expect(page.locator("#id_content")).to_have_value("Written while the network was down.")
    assert Chapter.objects.get(pk=chapter.pk).content == "Before the storm."

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("[data-save-status]")).to_have_text(SAVED)
    assert Chapter.objects.get(pk=chapter.pk).content == "Written while the network was down."


def test_a_busy_server_is_retried_and_the_writer_is_told(new_page):
    writer = make_user()
    chapter = make_chapter(make_story(writer), content="Before the restart.")
    page = new_page(writer)
    page.goto(chapter.get_absolute_url())
    busy = {"answers": 0}

    def restarting(route):
        # What the app answers while its database restarts (tests/test_database_pool.py shows the real one).
        if busy["answers"] < 2:
            busy["answers"] += 1
            route.fulfill(status=503, headers={"Retry-After": "1"}, body="The server is busy or restarting.")
        else:
            route.continue_()

    page.context.route("**/save/", restarting)
    page.fill("#id_content", "Written while the database restarted.")
    expect(page.locator("[data-save-status]")).to_have_text("Not saved — the server is busy. Retrying…")
    expect(page.locator("#id_content")).to_have_value("Written while the database restarted.")
    expect(page.locator("[data-save-status]")).to_have_text(SAVED, timeout=30_000)  # caught up by itself
    assert busy["answers"] == 2
    assert Chapter.objects.get(pk=chapter.pk).content == "Written while the database restarted."


def test_text_left_unsaved_in_a_closed_tab_is_offered_back(new_page):
    writer = make_user()
    chapter = make_chapter(make_story(writer), content="Saved text.")
    page = new_page(writer)
    page.goto(chapter.get_absolute_url())
    # Every save fails at the network level, deterministically (as offline, but without timing races).
    page.context.route("**/save/", lambda route: route.abort("internetdisconnected"))
    page.fill("#id_content", "Typed offline, then the tab was closed.")
    expect(page.locator("[data-save-status]")).to_contain_text("Offline")
    page.close()  # the writer closes the tab while still offline
    page.context.unroute("**/save/")
    assert Chapter.objects.get(pk=chapter.pk).content == "Saved text."

    page = page.context.new_page()  # same browser, same local copy
    page.goto(chapter.get_absolute_url())
    expect(page.locator("#id_content")).to_have_value("Saved text.")
    page.click("text=Restore it and save")
    expect(page.locator("[data-save-status]")).to_have_text(SAVED)
    assert Chapter.objects.get(pk=chapter.pk).content == "Typed offline, then the tab was closed."


def test_ctrl_s_saves_immediately(new_page):
    writer = make_user()
    chapter = make_chapter(make_story(writer), content="")
    page = new_page(writer)
    page.goto(chapter.get_absolute_url())
    page.locator("#id_content").press_sequentially("Quick")
    page.keyboard.press("Control+s")
    expect(page.locator("[data-save-status]")).to_have_text(SAVED)
    assert Chapter.objects.get(pk=chapter.pk).content == "Quick"


def test_the_editor_works_without_javascript(new_page):
    writer = make_user()
    chapter = make_chapter(make_story(writer), content="Plain.")
    page = new_page(writer, javascript=False)
    page.goto(chapter.get_absolute_url())
    page.fill("#id_content", "Saved by a plain form post.")
    page.click("button:has-text('Save')")
    expect(page.locator(".messages")).to_contain_text("Saved.")
    assert Chapter.objects.get(pk=chapter.pk).content == "Saved by a plain form post."


def test_a_tablet_sized_screen_and_the_dark_theme(new_page, screenshot):
    writer = make_user()
    story = make_story(writer, title="Night Shift")
    make_chapter(story, content="Lamps.")
    page = new_page(writer)
    page.set_viewport_size({"width": 820, "height": 1180})
    page.goto(story.get_absolute_url())
    page.click("[data-theme-toggle]")
    theme = page.evaluate("document.documentElement.dataset.theme")
    assert theme in {"dark", "light"}
    if theme == "light":
        page.click("[data-theme-toggle]")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # remembered
    screenshot(page, "11-tablet-dark")
    assert Story.objects.filter(pk=story.pk).exists()


def test_grammar_suggestions_are_highlighted_and_applied_one_by_one(new_page, languagetool, screenshot):
    writer = make_user()
    text = "Mara 🐉 climbed teh stairs. Then the the lamp was lit."
    chapter = make_chapter(make_story(writer), content=text)
    revisions = chapter.revisions.count()
    page = new_page(writer)
    page.goto(chapter.get_absolute_url())
    page.click("button:has-text('Check grammar and style')")
    items = page.locator("[data-grammar-match]")
    expect(items).to_have_count(2)
    expect(items.first.locator("mark")).to_have_text("teh")
    screenshot(page, "grammar-suggestions")

    items.first.locator("[data-grammar-show]").click()  # selects the passage in the text
    assert page.evaluate("() => { const t = document.getElementById('id_content'); "
                         "return t.value.slice(t.selectionStart, t.selectionEnd); }") == "teh"  # fmt: skip
    items.first.locator("[data-grammar-apply][data-replacement='the']").click()
    expect(items).to_have_count(1)
    expect(page.locator("[data-save-status]")).to_have_text(SAVED)
    assert Chapter.objects.get(pk=chapter.pk).content == "Mara 🐉 climbed the stairs. Then the the lamp was lit."
    assert chapter.revisions.count() == revisions + 1

    # The second suggestion moved with the text and still points at the repeated word.
    items.first.locator("[data-grammar-show]").click()
    assert page.evaluate("() => { const t = document.getElementById('id_content'); "
                         "return t.value.slice(t.selectionStart, t.selectionEnd); }") == "the the"  # fmt: skip
    items.first.locator("[data-grammar-dismiss]").click()
    expect(items).to_have_count(0)


def test_the_word_count_never_covers_the_text_of_a_long_chapter(new_page, screenshot):
    writer = make_user()
    story = make_story(writer, title="The Keeper")
    chapter = make_chapter(story, title="Stairs", content="The ship docked at dawn. " * 4000)
    page = new_page(writer)
    page.set_viewport_size({"width": 1280, "height": 720})  # a laptop's screen, where the text runs past the fold
    page.goto(chapter.get_absolute_url())
    page.locator("#id_content").press("Control+End")  # writing at the end of the chapter
    text, footer = page.locator("#id_content").bounding_box(), page.locator("#editor-footer").bounding_box()
    assert footer["y"] >= text["y"] + text["height"] - 0.5  # below the text box, never over its last lines
    screenshot(page, "16-editor-long-chapter")


def test_formatting_buttons_mark_the_text_and_the_preview_renders_it_as_the_exports_do(new_page, screenshot):
    writer = make_user()
    chapter = make_chapter(make_story(writer), content="")
    page = new_page(writer)
    page.goto(chapter.get_absolute_url())
    write(page, "At noon Mr. Hale was never late.")
    editor = page.locator("#id_content")

    def select(text):
        start = editor.input_value().index(text)
        editor.evaluate("(el, [s, e]) => { el.focus(); el.setSelectionRange(s, e); }", [start, start + len(text)])

    select("Mr. Hale ")  # the space stays outside the markers
    page.click("[data-format=smallcaps]")
    select("never")
    page.click("[data-format=underline]")
    select("late")
    editor.press("Control+b")
    editor.press("Control+i")
    assert editor.input_value() == "At noon [Mr. Hale]{.smallcaps} was [never]{.underline} ***late***."
    editor.press("Control+b")  # pressed again, bold comes off and italic stays
    assert editor.input_value() == "At noon [Mr. Hale]{.smallcaps} was [never]{.underline} *late*."
    select("At noon")
    page.click("[data-format=struck]")
    expect(page.locator("[data-save-status]")).to_have_text(SAVED)
    assert Chapter.objects.get(pk=chapter.pk).content == (
        "~~At noon~~ [Mr. Hale]{.smallcaps} was [never]{.underline} *late*."
    )
    expect(page.locator("[data-live-chapter-words]")).to_have_text("7")  # the markup is no word

    page.click("[data-preview]")
    pane = page.locator("[data-preview-pane]")
    expect(pane.locator("span.smallcaps")).to_have_text("Mr. Hale")
    assert pane.locator("span.smallcaps").evaluate("el => getComputedStyle(el).fontVariantCaps") == "small-caps"
    assert "underline" in pane.locator("span.underline").evaluate("el => getComputedStyle(el).textDecorationLine")
    expect(pane.locator("em")).to_have_text("late")
    expect(pane.locator("s")).to_have_text("At noon")
    expect(editor).to_be_hidden()
    screenshot(page, "editor-preview")
    page.click("[data-preview]")
    expect(editor).to_be_visible()
    page.keyboard.press("Control+z")  # the browser's undo takes back the last formatting
    assert editor.input_value() == "At noon [Mr. Hale]{.smallcaps} was [never]{.underline} *late*."
