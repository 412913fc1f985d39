"""Chapters from the book's own map: an e-book's table of contents (EPUB 3 navigation or EPUB 2 NCX), the heading
level a Word document uses for chapters, chapter lines in plain text; front and back matter offered as "not a
chapter"; nothing appended to a chapter it does not belong to. E-books here are built by hand as their makers
write them (XHTML in a zip), documents with python-docx."""

import io
import zipfile

import docx
import pytest
from django.urls import reverse

from interop import manuscript, tasks
from interop.models import ManuscriptImport
from stories.models import Story

from .test_manuscripts import BOUNDS, upload

pytestmark = pytest.mark.django_db

CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>'
    "</container>"
)


def xhtml(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        f'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>x</title></head><body>{body}</body></html>'
    )


def make_epub(documents: dict[str, str], toc: list[tuple[str, str]], *, ncx: bool = False, nested=False) -> bytes:
    """An EPUB whose spine is `documents` (name -> body) in order, with `toc` (href, title) as its navigation
    document (EPUB 3) or its NCX (EPUB 2); `nested` puts the entries under one entry for the book."""
    items = "".join(
        f'<item id="d{i}" href="{name}" media-type="application/xhtml+xml"/>' for i, name in enumerate(documents)
    )
    spine = "".join(f'<itemref idref="d{i}"/>' for i in range(len(documents)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr("META-INF/container.xml", CONTAINER)
        for name, body in documents.items():
            book.writestr(f"OEBPS/{name}", xhtml(body))
        if ncx:
            points = "".join(
                f'<navPoint id="p{i}"><navLabel><text>{title}</text></navLabel><content src="{href}"/></navPoint>'
                for i, (href, title) in enumerate(toc)
            )
            if nested:
                label = "<navLabel><text>The Book</text></navLabel>"
                points = f'<navPoint id="book">{label}<content src="{toc[0][0]}"/>{points}</navPoint>'
            book.writestr(
                "OEBPS/toc.ncx", f'<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/"><navMap>{points}</navMap></ncx>'
            )
            items += '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
            spine_attrs = ' toc="ncx"'
        else:
            entries = "".join(f'<li><a href="{href}">{title}</a></li>' for href, title in toc)
            if nested:
                entries = f'<li><a href="{toc[0][0]}">The Book</a><ol>{entries}</ol></li>'
            book.writestr("OEBPS/nav.xhtml", xhtml(f'<nav epub:type="toc"><ol>{entries}</ol></nav>'))
            items += '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
            spine_attrs = ""
        book.writestr(
            "OEBPS/content.opf",
            '<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata/>'
            f"<manifest>{items}</manifest><spine{spine_attrs}>{spine}</spine></package>",
        )
    return out.getvalue()


# A short book as e-book makers split it: a title page and a contents page, three chapters (one over two files,
# with sections inside), and a licence page at the end that the contents list as well.
BOOK = {
    "title.xhtml": "<h1>The Keeper</h1><p>by A. Writer</p>",
    "contents.xhtml": "<h2>Contents</h2><p>I. The Lamp</p><p>II. The Storm</p>",
    "ch1.xhtml": '<section id="c1"><h2>I</h2><h3>The Lamp</h3><p>Mara lit the lamp.</p>'
    "<h4>A note</h4><p>The oil was low.</p></section>",
    "ch2a.xhtml": "<h2>II</h2><h3>The Storm</h3><p>The storm came.</p>",
    "ch2b.xhtml": "<h3>Later</h3><p>It passed at dawn.</p>",
    "ch3.xhtml": '<p>Before.</p><h2 id="three">III</h2><p>The ship <i>Gull</i> came in.</p>'
    "<!-- a maker's comment --><style>p { color: red }</style>",
    "licence.xhtml": "<h2>Licence</h2><p>Free to share.</p>",
}
TOC = [("ch1.xhtml", "I. The Lamp"), ("ch2a.xhtml", "II. The Storm"), ("ch3.xhtml#three", "III"),
       ("licence.xhtml", "Licence")]  # fmt: skip


def read_book(data, name="book.epub"):
    text, kind = manuscript.read(name, data, BOUNDS)
    text, contents = manuscript.table_of_contents(text)
    return text, manuscript.contents_spans(text, contents)


@pytest.mark.parametrize("ncx", [False, True], ids=["epub3-nav", "epub2-ncx"])
@pytest.mark.parametrize("nested", [False, True], ids=["flat", "under-the-books-title"])
def test_an_ebook_splits_by_its_own_table_of_contents(ncx, nested):
    text, found = read_book(make_epub(BOOK, TOC, ncx=ncx, nested=nested))
    assert [s.title for s in found] == ["Front matter", "I. The Lamp", "II. The Storm", "III", "Licence"]
    chapters = {s.title: text[s.start : s.end].strip() for s in found}
    # A chapter over two files is one chapter; its sections stay inside it, headings at their level.
    # Headings that only repeat the entry's title are the title; an entry pointing inside a file starts there, and
    # the text before it stays with the chapter before.
    assert chapters["II. The Storm"] == "The storm came.\n\n### Later\n\nIt passed at dawn.\n\nBefore."
    assert chapters["I. The Lamp"] == "Mara lit the lamp.\n\n#### A note\n\nThe oil was low."
    assert chapters["III"] == "The ship *Gull* came in."  # no comment, no style
    front, licence = found[0], found[-1]
    assert (
        front.matter and "The Keeper" in text[front.start : front.end] and "Contents" in text[front.start : front.end]
    )
    stored = manuscript.stored_spans(text, found)["spans"]
    assert [row[6] for row in stored] == [True, False, False, False, True]  # the licence is back matter
    assert not licence.matter and stored[-1][3] == manuscript.MATTER_NOTE


def test_headings_split_at_the_level_the_book_uses_for_chapters():
    document = docx.Document()
    document.add_paragraph("The Keeper", style="Title")
    document.add_paragraph("by A. Writer")
    document.add_heading("Part One", level=1)
    for number, subtitle in ((1, "The Lamp"), (2, None), (3, "Why Not?")):
        document.add_heading(f"Chapter {number}", level=2)
        if subtitle:
            document.add_heading(subtitle, level=3)
        document.add_paragraph(f"Text of chapter {number}.")
        document.add_heading("Aside", level=3)
        document.add_paragraph("More.")
    document.add_heading("Part Two", level=1)
    document.add_heading("Chapter 4", level=2)
    document.add_paragraph("The end.")
    out = io.BytesIO()
    document.save(out)
    text, _ = manuscript.read("book.docx", out.getvalue(), BOUNDS)
    parts = manuscript.split(text, "headings")
    assert [p.title for p in parts] == [
        "The Keeper",  # the title page, with the byline
        "Part One — Chapter 1: The Lamp",
        "Chapter 2",
        "Chapter 3: Why Not?",
        "Part Two — Chapter 4",
    ]
    assert parts[0].content == "by A. Writer"
    assert [s.matter for s in manuscript.spans(text, "headings")] == [True, False, False, False, False]  # title page
    assert parts[2].content == "Text of chapter 2.\n\n### Aside\n\nMore."  # a section inside stays inside
    assert manuscript.chapter_level(text) == 2


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("Chapter 12", "Chapter 12"),
        ("CHAPTER XIV. THE STORM", "CHAPTER XIV. THE STORM"),
        ("Chapter Twenty-One: Why Not?", "Chapter Twenty-One: Why Not?"),
        ("Part Three — The Sea!", "Part Three — The Sea!"),
        ("Book II The Return", "Book II The Return"),
        ("Prologue", "Prologue"),
        ("book two was better than the first", None),
        ("Book two was better than the first", None),
        ("Chapter and verse were quoted at him.", None),
        ("Part of the wall fell.", None),
    ],
)
def test_chapter_lines_are_a_word_a_number_and_any_title(line, title):
    assert manuscript.chapter_line(line) == title


def test_front_matter_is_offered_as_not_a_chapter_and_left_out_unless_kept(writer_client):
    book = make_epub(BOOK, TOC)
    upload(writer_client, book, name="keeper.epub")
    imported = ManuscriptImport.objects.get()
    assert imported.default_split == "contents"
    page = writer_client.get(imported.get_absolute_url()).content.decode()
    assert 'data-parts="5"' in page and page.count("data-matter") == 2
    assert page.count('name="leave_out" value="0" checked') == 1 and 'value="4" checked' in page
    # The writer keeps the licence this time (unticks it) and leaves the front matter out.
    writer_client.post(imported.get_absolute_url(), {"split": "contents", "leave_out": ["0"], "title": "Keeper"})
    tasks.import_manuscript(imported.pk)
    story = Story.objects.get(title="Keeper")
    assert [c.title for c in story.chapters.order_by("order")] == ["I. The Lamp", "II. The Storm", "III", "Licence"]


def test_leaving_out_every_part_is_refused(writer_client):
    upload(writer_client, make_epub(BOOK, TOC), name="keeper.epub")
    imported = ManuscriptImport.objects.get()
    response = writer_client.post(
        imported.get_absolute_url(), {"split": "contents", "leave_out": [str(i) for i in range(5)]}
    )
    assert response.status_code == 400 and "keep at least one" in response.content.decode()
    assert not Story.objects.exists()


def test_a_file_without_a_table_of_contents_says_so(writer_client):
    upload(writer_client, b"# One\n\nText.\n\n# Two\n\nMore.", name="book.md")
    imported = ManuscriptImport.objects.get()
    assert imported.default_split == "headings"
    page = writer_client.get(imported.get_absolute_url() + "?split=contents").content.decode()
    assert "has no table of contents of its own" in page
    assert reverse("manuscript_upload")  # the page still offers the other ways


def wrapped(paragraph: str, width: int = 70) -> str:
    lines, line = [], ""
    for word in paragraph.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def test_a_hard_wrapped_text_file_gets_its_paragraphs_back_and_keeps_its_verse():
    prose = " ".join(f"The keeper climbed the stairs for the {n}th time and counted the ships below." for n in range(8))
    verse = "The lamp is lit,\nthe sea is wide,\nand I am home."
    text = "\n\n".join(
        ["CHAPTER I", wrapped(prose), wrapped(prose), verse, "CHAPTER II: Why Not?", wrapped(prose), wrapped(prose)]
    )
    read, _ = manuscript.read("book.txt", text.encode(), BOUNDS)
    paragraphs = read.split("\n\n")
    assert paragraphs[1] == prose and paragraphs[2] == prose  # one line each again
    assert verse in read  # short lines are verse: their breaks stay
    assert [p.title for p in manuscript.split(read, "chapter-lines")] == ["CHAPTER I", "CHAPTER II: Why Not?"]


def test_markdown_with_html_in_it_reads_as_the_author_wrote_it():
    source = (
        "<!-- draft 3, do not share -->\n<style>.scene { margin: 2em }</style>\n\n"
        "# The Keeper\n\nby A. Writer\n\n"
        '## Chapter 1\n\n<div class="chapter">\n<section class="scene">\n\n'
        "The *lamp* was **dark** and the ~~old~~ oil was gone.\nShe waited.\n\n</section>\n</div>\n\n"
        "* * *\n\n## Chapter 2\n\n<p>The <em>Gull</em> came in.</p>\n"
    )
    text, kind = manuscript.read("book.md", source.encode(), BOUNDS)
    assert kind == "md"
    assert "draft 3" not in text and "margin" not in text and "<" not in text  # no comment, style or tags
    assert "The *lamp* was **dark** and the ~~old~~ oil was gone. She waited." in text
    parts = manuscript.split(text, "headings")
    assert [p.title for p in parts] == ["The Keeper", "Chapter 1", "Chapter 2"]
    assert parts[0].content == "by A. Writer" and manuscript.spans(text, "headings")[0].matter
    assert parts[1].content.endswith("She waited.\n\n* * *")  # the scene break is kept
    assert parts[2].content == "The *Gull* came in."


def test_a_refusal_in_the_browser_is_a_page_with_the_reason_and_a_way_back(writer_client):
    form = reverse("manuscript_upload")
    response = writer_client.post(
        form, {}, HTTP_ACCEPT="text/html,application/xhtml+xml", HTTP_REFERER=f"http://testserver{form}"
    )
    page = response.content.decode()
    assert response.status_code == 400 and 'data-refused="400"' in page and 'role="alert"' in page
    assert f'href="http://testserver{form}">← Go back' in page and "Characters</a>" in page  # the app's navigation
    script = writer_client.post(form, {})  # a client that does not ask for a page gets the reason as text
    assert script["Content-Type"].startswith("text/plain") and script.content.decode() in page


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "This is a PNG image, not a manuscript. To import a character card"),
        (b"%PDF-1.7\n" + b"\0" * 50, "This is a PDF document, which cannot be imported: save it as .docx"),
    ],
)
def test_a_picture_or_a_pdf_sent_as_a_manuscript_is_named_with_where_it_belongs(data, said):
    with pytest.raises(manuscript.ManuscriptError, match=said):
        manuscript.read("upload.txt", data, BOUNDS)


def test_a_lorebook_sent_as_a_card_says_where_it_belongs():
    from interop import cards

    with pytest.raises(cards.CardError, match="This is a lorebook .World Info., not a character card"):
        cards.read(b'{"entries": {"0": {"key": ["glade"], "content": "A clearing."}}}', 1_000_000)


def test_a_story_goes_out_as_an_ebook_and_comes_back_as_it_was(writer_client, user):
    from tests.factories import make_chapter, make_story
    from tests.responses import streamed_body

    story = make_story(user, title="Round Trip", premise="A keeper and a storm.")
    chapters = [
        (
            "The Forge",
            "Sparks *flew*, and **the anvil** rang.\nTwice.\n\n* * *\n\nThe ~~old~~ smith <b>slept</b> & dreamt.",
        ),
        (
            "Chapter 2: The Road",
            "They left at dawn.\n\n### On the road\n\n[Mr. *Hale*]{.smallcaps} had [never]{.underline} come.",
        ),
    ]
    for title, content in chapters:
        make_chapter(story, title=title, content=content)
    book = streamed_body(writer_client.get(reverse("story_export_epub", args=[story.pk])))
    upload(writer_client, book, name="round-trip.epub")
    imported = ManuscriptImport.objects.get()
    assert imported.default_split == "contents"
    split = imported.split_for("contents")
    kept = [(row[0], imported.text[row[1] : row[2]].strip()) for row in split["spans"] if not row[6]]
    assert kept == chapters  # formatting, line breaks, scene breaks, headings and the text's own "<b>" as it was
    assert [row[0] for row in split["spans"] if row[6]] == ["Round Trip"]  # the title page: front matter


def test_a_word_contents_field_is_front_matter_and_parts_do_not_become_chapters():
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.add_paragraph("The Keeper", style="Title")
    document.add_paragraph("Contents", style="TOC Heading")
    document.styles.add_style("toc 1", WD_STYLE_TYPE.PARAGRAPH)
    for line in ("Part One\t1", "Chapter 1\t3", "Part Two\t9", "Chapter 2\t11"):
        document.add_paragraph(line, style="toc 1")
    for part, number in (("Part One", 1), ("Part Two", 2)):
        document.add_heading(part, level=1)
        document.add_heading(f"Chapter {number}", level=2)
        document.add_paragraph(f"Text of chapter {number}.")
    out = io.BytesIO()
    document.save(out)
    text, _ = manuscript.read("book.docx", out.getvalue(), BOUNDS)
    found = manuscript.spans(text, "headings")
    assert [(s.title, s.matter) for s in found] == [
        ("The Keeper", True),
        ("Contents", True),
        ("Part One — Chapter 1", False),
        ("Part Two — Chapter 2", False),
    ]  # fmt: skip (the book's title, with nothing under it, is offered as front matter, not lost)


def test_headings_with_nothing_under_them_are_empty_chapters_not_lost():
    found = manuscript.spans("## One\n\n## Two\n\n## Three\nText.\n\n## Four\n", "headings")
    assert [(s.title, s.start == s.end) for s in found] == [
        ("One", True), ("Two", True), ("Three", False), ("Four", True),
    ]  # fmt: skip


def test_a_numbered_first_section_is_not_a_subtitle():
    text = "\n\n".join(
        [
            "# The Book",
            "By A. Writer",
            "## A Scandal",
            "### I",
            "Text one.",
            "### II",
            "Text two.",
            "## The League",
            "Text three.",
        ]  # fmt: skip
    )
    parts = manuscript.split(text, "headings")
    assert [p.title for p in parts] == ["The Book", "A Scandal", "The League"]
    assert parts[1].content == "### I\n\nText one.\n\n### II\n\nText two."


def test_the_preview_shows_the_chapters_heading_level_and_the_writer_may_change_it(writer_client):
    source = "# Part One\n\n## Chapter 1\n\nText.\n\n## Chapter 2\n\nMore.\n\n# Part Two\n\n## Chapter 3\n\nEnd."
    upload(writer_client, source.encode(), name="book.md")
    imported = ManuscriptImport.objects.get()
    page = writer_client.get(imported.get_absolute_url()).content.decode()
    assert 'data-level="2"' in page and "heading levels 1, 2" in page and 'data-parts="3"' in page
    page = writer_client.get(imported.get_absolute_url() + "?split=headings&level=1").content.decode()
    assert 'data-parts="2"' in page and '<input type="hidden" name="level" value="1">' in page
    writer_client.post(imported.get_absolute_url(), {"split": "headings", "level": "1", "title": "Parts"})
    tasks.import_manuscript(imported.pk)
    chapters = Story.objects.get(title="Parts").chapters.order_by("order")
    assert [c.title for c in chapters] == ["Part One", "Part Two"]
    assert chapters[0].content == "## Chapter 1\n\nText.\n\n## Chapter 2\n\nMore."


def test_small_caps_and_underline_are_read_from_every_format_the_way_each_writes_them():
    document = docx.Document()
    paragraph = document.add_paragraph("At noon ")
    paragraph.add_run("Mr. Hale").font.small_caps = True
    paragraph.add_run(" was ")
    paragraph.add_run("never").underline = True
    paragraph.add_run(" late, ")
    both = paragraph.add_run("said the clock")
    both.font.small_caps, both.italic = True, True
    paragraph.add_run(".")
    out = io.BytesIO()
    document.save(out)
    text, _ = manuscript.read("hale.docx", out.getvalue(), BOUNDS)
    assert text == "At noon [Mr. Hale]{.smallcaps} was [never]{.underline} late, [*said the clock*]{.smallcaps}."

    page = (
        '<html><body><h2><span class="sc">Chapter</span> One</h2><p><span style="font-variant: small-caps">Mr. '
        '<span class="small-caps">Hale</span></span> was <u>never</u> late, <i><span class="smallcaps">said</span>'
        '</i> <span style="text-decoration: underline">the clock</span>.</p></body></html>'
    )
    assert manuscript.xhtml_text(page.encode()) == (
        "## Chapter One\n\n[Mr. Hale]{.smallcaps} was [never]{.underline} late, *[said]{.smallcaps}* "
        "[the clock]{.underline}."
    )  # a span inside the same span adds nothing; headings stay plain

    markdown = "# One\n\n[Mr. Hale]{.smallcaps} was <u>never</u> late, [as]{.other} ever.\n"
    text, _ = manuscript.read("hale.md", markdown.encode(), BOUNDS)
    assert text == "# One\n\n[Mr. Hale]{.smallcaps} was [never]{.underline} late, as ever."
