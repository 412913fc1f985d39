"""Writing together in two browsers: each sees the other's typing and caret, the text settles into the chapter
through a real worker, and a beta reader's comment on a passage appears for the owner at once; the chapter list
shows who is in which chapter."""

import pytest
from playwright.sync_api import expect

from stories.models import Chapter, Comment, Role, StoryMembership, Suggestion
from tests.factories import make_chapter, make_story, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_two_writers_type_into_one_chapter_at_once(web_page, start_worker, screenshot):
    owner = make_user("owner@example.com", display_name="Ines")
    partner = make_user("partner@example.com", display_name="Tomas")
    reader = make_user("reader@example.com", display_name="Beta")
    story = make_story(owner, title="Two Hands")
    chapter = make_chapter(story, title="Harbour", content="The boats came in at dusk.")
    open_sea = make_chapter(story, title="Open Sea", content="Nothing but water.")
    StoryMembership.objects.create(story=story, user=partner, role=Role.CO_AUTHOR)
    StoryMembership.objects.create(story=story, user=reader, role=Role.READER)
    start_worker()
    url = f"/stories/{story.pk}/chapters/{chapter.pk}/"
    ines, tomas = web_page(owner), web_page(partner)
    for page in (ines, tomas):
        page.goto(url)
        expect(page.locator("[data-save-status]")).to_contain_text("Writing together")
    editor_a, editor_b = ines.locator("#id_content"), tomas.locator("#id_content")

    # Both type at once, at different places.
    editor_a.click()
    editor_a.press("End")
    editor_b.click()
    editor_b.press("Control+Home")
    editor_a.press_sequentially(" Gulls cried.", delay=30)
    editor_b.press_sequentially("Evening. ", delay=30)
    expected = "Evening. The boats came in at dusk. Gulls cried."
    expect(editor_a).to_have_value(expected)
    expect(editor_b).to_have_value(expected)
    # Each sees who else is here, and the other's caret.
    expect(ines.locator("[data-presence]")).to_contain_text("Tomas")
    expect(tomas.locator("[data-presence]")).to_contain_text("Ines")
    editor_b.press("End")
    expect(ines.locator("text=Tomas").first).to_be_visible()
    screenshot(ines, "cowrite-two-writers")

    # The worker settles the document into the chapter's text and history.
    for _ in range(60):
        if Chapter.objects.get(pk=chapter.pk).content == expected:
            break
        ines.wait_for_timeout(500)
    saved = Chapter.objects.get(pk=chapter.pk)
    assert saved.content == expected and saved.revisions.first().source == "together"

    # A beta reader sees the text live, cannot type into it, and comments on a passage.
    beta = web_page(reader)
    beta.goto(url)
    expect(beta.locator("[data-save-status]")).to_contain_text("Live")
    expect(beta.locator("#id_content")).to_have_value(expected)
    expect(beta.locator("#id_content")).not_to_be_editable()
    beta.evaluate(
        """() => { const t = document.querySelector('#id_content'); const at = t.value.indexOf('Gulls cried');
                   t.focus(); t.setSelectionRange(at, at + 'Gulls cried'.length);
                   t.dispatchEvent(new Event('select')); }"""
    )
    beta.fill("#review-body", "Which gulls? Name the bird.")
    beta.click("[data-review-form] button.primary")
    expect(beta.locator("#review-panel")).to_contain_text("Which gulls?")
    assert Comment.objects.get().quote == "Gulls cried"
    # The owner's open page shows it without reloading.
    expect(ines.locator("#review-panel")).to_contain_text("Which gulls? Name the bird.")
    # ... and marks its passage in the editor, following it as the text before it changes.
    expect(ines.locator("[data-marks] mark.comment")).to_have_text("Gulls cried")
    editor_b.press("Control+Home")
    editor_b.press_sequentially("Late. ", delay=20)
    expect(editor_a).to_have_value("Late. " + expected)
    expect(ines.locator("[data-marks] mark.comment")).to_have_text("Gulls cried")
    # The mark lies on the passage's line, inside the text's box.
    mark, text_box = ines.locator("[data-marks] mark.comment").bounding_box(), editor_a.bounding_box()
    assert text_box["x"] < mark["x"] < text_box["x"] + text_box["width"] and mark["width"] > 40
    assert text_box["y"] < mark["y"] < text_box["y"] + 80
    screenshot(ines, "cowrite-comment-marked-in-the-editor")

    # The chapter list shows who is in which chapter, and follows them.
    harbour = ines.locator(f".chapter-item[data-id='{chapter.pk}'] [data-chapter-presence]")
    expect(harbour).to_have_attribute("aria-label", "Beta, Tomas here")
    tomas.goto(f"/stories/{story.pk}/chapters/{open_sea.pk}/")
    expect(ines.locator(f".chapter-item[data-id='{open_sea.pk}'] [data-chapter-presence]")).to_contain_text("T")
    expect(harbour).to_have_attribute("aria-label", "Beta here")
    screenshot(ines, "cowrite-who-is-where")

    ines.reload()
    expect(ines.locator("[data-notifications]")).to_contain_text("1")
    ines.locator("[data-comment]").first.click()
    selected = ines.evaluate(
        "() => { const t = document.querySelector('#id_content'); "
        "return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected == "Gulls cried"
    screenshot(ines, "cowrite-beta-reader-comment")

    # Suggestions read in the text: the passage struck out, the proposal after it; accepted from there.
    expected = "Late. " + expected
    start = expected.index("at dusk")
    Suggestion.objects.create(chapter=chapter, author=reader, quote="at dusk", prefix=expected[:start],
                              suffix=expected[start + 7 :], start=start, replacement="after dark")  # fmt: skip
    ines.goto(f"/stories/{story.pk}/chapters/{chapter.pk}/changes/")
    change = ines.locator("[data-suggestion-inline]")
    expect(change.locator("del")).to_have_text("at dusk")
    expect(change.locator("ins")).to_have_text("after dark")
    expect(ines.locator("mark.tracked-comment")).to_have_text("Gulls cried")
    screenshot(ines, "cowrite-suggestions-in-the-text")
    change.get_by_role("button", name="Accept").click()
    expect(ines.locator("[data-nothing-open]")).to_have_count(0)
    expect(ines.locator("[data-tracked-text]")).to_contain_text("came in after dark.")
