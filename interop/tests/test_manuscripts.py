"""Importing a manuscript: real DOCX files made by python-docx, EPUBs made by the app's own export, Markdown and
text, read by the job a worker runs (in the sandbox); the split previewed before anything is saved; bad files
refused with a reason; the chapters made by a second job once the writer confirms."""

import io
import time
import zipfile
from datetime import timedelta

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.models import Upload
from interop import manuscript, tasks
from interop.models import ManuscriptImport
from stories.models import ChapterRevision, Story
from tests.factories import make_chapter, make_story, read_uploads
from tests.responses import streamed_body

pytestmark = pytest.mark.django_db


def novel_docx(chapters=3, paragraphs=2) -> bytes:
    document = docx.Document()
    document.add_paragraph("The Lighthouse Keeper", style="Title")
    document.add_paragraph("A dedication to the sea.")
    for number in range(1, chapters + 1):
        document.add_heading(f"Chapter {number}", level=1)
        for index in range(paragraphs):
            paragraph = document.add_paragraph(f"Paragraph {index} of chapter {number}, where Mara ")
            paragraph.add_run("climbed").italic = True
            paragraph.add_run(" the ")
            paragraph.add_run("stairs").bold = True
            paragraph.add_run(".")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


BOUNDS = manuscript.Bounds(25 * 1024 * 1024, 100 * 1024 * 1024, 10_000_000)


def upload(client, data, name="novel.docx", **extra):
    """Send the file and let the worker's job read it; the answer the writer's page then gives."""
    response = client.post(reverse("manuscript_upload"), {"manuscript": SimpleUploadedFile(name, data), **extra})
    if response.status_code != 302:
        return response
    read_uploads()
    return client.get(response["Location"])


def confirm(client, imported, **choice):
    """The writer confirms the import; the worker's job makes the chapters."""
    response = client.post(imported.get_absolute_url(), choice)
    tasks.import_manuscript(imported.pk)
    return response


def test_a_word_manuscript_is_previewed_then_imported_with_its_emphasis(writer_client, user):
    response = upload(writer_client, novel_docx())
    imported = ManuscriptImport.objects.get()
    assert response["Location"] == imported.get_absolute_url() and imported.source_format == "docx"
    assert imported.words == 3 + 5 + 3 * 2 + 3 * 2 * 10  # title, dedication, headings, paragraphs
    assert "Paragraph 0 of chapter 1, where Mara *climbed* the **stairs**." in imported.text
    assert not Story.objects.exists()  # nothing saved to a story yet

    page = writer_client.get(imported.get_absolute_url()).content.decode()
    assert 'data-parts="4"' in page  # the title page's text, then three chapters
    for title in ("The Lighthouse Keeper", "Chapter 1", "Chapter 3"):
        assert f"<strong>{title}</strong>" in page

    response = confirm(writer_client, imported, split="chapter-lines", title="Keeper")
    story = Story.objects.get(title="Keeper")
    assert response["Location"] == imported.get_absolute_url()
    chapters = list(story.chapters.order_by("order"))
    assert [c.title for c in chapters] == ["Opening", "Chapter 1", "Chapter 2", "Chapter 3"]
    assert chapters[0].content.startswith("# The Lighthouse Keeper")
    assert chapters[1].content.startswith("Paragraph 0 of chapter 1") and chapters[1].word_count == 20
    revision = chapters[1].revisions.get()
    assert revision.source == ChapterRevision.Source.IMPORT and revision.note == "Imported from novel.docx"
    page = writer_client.get(imported.get_absolute_url()).content.decode()
    assert 'data-memory-total="4"' in page

    again = confirm(writer_client, imported, split="headings")
    assert again.status_code == 200 and story.chapters.count() == 4  # imported once only


def test_chapters_go_after_an_existing_storys_chapters(writer_client, user):
    story = make_story(user, title="Saltmere")
    make_chapter(story, title="Already here", content="First.")
    upload(writer_client, b"# One\n\nThe tide.\n\n# Two\n\nThe storm.", name="more.md")
    imported = ManuscriptImport.objects.get()
    confirm(writer_client, imported, story=story.pk)
    assert [c.title for c in story.chapters.order_by("order")] == ["Already here", "One", "Two"]


@pytest.mark.parametrize(
    ("how", "word", "titles"),
    [
        ("headings", "", ["Opening", "Part One", "Scene 2"]),
        ("chapter-lines", "", ["Opening", "Part One — Chapter Seven: The Mill"]),  # the part kept in the title
        ("scene-breaks", "", ["Part 1", "Part 2"]),
        ("custom", "scene", ["Opening", "Scene 2"]),
        ("none", "", ["Chapter 1"]),
    ],
)
def test_the_writer_chooses_where_chapters_split(how, word, titles):
    text = (
        "It began at sea.\n\n# Part One\n\nChapter Seven: The Mill\n\nThe wheel turned.\n\n* * *\n\n"
        "# Scene 2\n\nNight fell."
    )
    assert [p.title for p in manuscript.split(text, how, word)] == titles


def test_an_epub_made_by_the_export_imports_back(writer_client, user):
    story = make_story(user, title="Round Trip")
    make_chapter(story, title="The Forge", content="Sparks flew.\n\nThe anvil rang.")
    make_chapter(story, title="The Road", content="They left at dawn.")
    book = streamed_body(writer_client.get(reverse("story_export_epub", args=[story.pk])))
    upload(writer_client, book, name="round-trip.epub")
    imported = ManuscriptImport.objects.get()
    parts = manuscript.split(imported.text)
    assert imported.source_format == "epub"
    assert [(p.title, p.content) for p in parts][-2:] == [
        ("The Forge", "Sparks flew.\n\nThe anvil rang."), ("The Road", "They left at dawn."),
    ]  # fmt: skip


def test_plain_text_in_windows_encoding_and_chapter_lines(writer_client):
    text = "CHAPTER ONE\r\n\r\nCafé au lait.\r\n\r\nCHAPTER TWO\r\n\r\nThe end.".encode("cp1252")
    upload(writer_client, text, name="book.txt")
    imported = ManuscriptImport.objects.get()
    assert [p.title for p in manuscript.split(imported.text, "chapter-lines")] == ["CHAPTER ONE", "CHAPTER TWO"]
    assert "Café au lait." in imported.text


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (120 * 1024 * 1024))  # 120 MB of zeros: a few hundred KB
    return out.getvalue()


def test_bad_files_are_refused_with_a_reason_and_nothing_is_saved(writer_client, settings):
    cases = [
        (novel_docx()[:3000], "novel.docx", "damaged"),
        (zip_bomb(), "bomb.docx", "expands to far more than a manuscript could"),
        (b"PK\x03\x04" + b"junk" * 100, "x.docx", "damaged"),
        (b"%PDF-1.7 ...", "novel.pdf", "This is a PDF document, which cannot be imported"),
        (b"   \n\n ", "empty.txt", "no text in it"),
    ]
    for data, name, reason in cases:
        page = upload(writer_client, data, name=name).content.decode()
        failed = Upload.objects.get(filename=name)
        assert failed.status == Upload.Status.FAILED and reason in failed.message, (name, failed.message)
        assert "Nothing was saved" in failed.message and reason in page and 'data-upload-status="failed"' in page
    settings.MANUSCRIPT_MAX_BYTES = 1000
    response = writer_client.post(
        reverse("manuscript_upload"), {"manuscript": SimpleUploadedFile("big.txt", b"x" * 100_000)}
    )
    assert response.status_code == 413 and "too large; the limit is" in response.content.decode()
    assert not ManuscriptImport.objects.exists() and not Story.objects.exists()
    assert Upload.objects.count() == len(cases) and not any(u.file for u in Upload.objects.all())


def test_script_in_a_manuscript_is_never_markup(writer_client):
    evil = b"# <script>alert(1)</script>\n\nHello <img src=x onerror=alert(2)>"
    upload(writer_client, evil, name="x.txt")  # plain text: shown as the text it is
    page = writer_client.get(ManuscriptImport.objects.get().get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    ManuscriptImport.objects.all().delete()
    upload(writer_client, evil, name="x.md")  # Markdown: its HTML is read as HTML, and scripts are no text
    imported = ManuscriptImport.objects.get()
    page = writer_client.get(imported.get_absolute_url()).content.decode()
    assert imported.text == "Hello" and "alert(" not in page and "<img src=x" not in page


def test_another_writer_gets_404(writer_client, other_client, user):
    upload(writer_client, b"# One\n\nText.", name="mine.md")
    imported = ManuscriptImport.objects.get()
    assert other_client.get(imported.get_absolute_url()).status_code == 404
    assert other_client.post(imported.get_absolute_url(), {}).status_code == 404
    assert other_client.get(Upload.objects.get().get_absolute_url()).status_code == 404
    story = make_story(user)
    other = upload(other_client, b"# One\n\nText.", name="theirs.md", story=story.pk)
    assert other.status_code == 404
    assert not Story.objects.exclude(pk=story.pk).exists()


def test_a_long_novel_is_read_and_split_in_bounded_time():
    """About 150,000 words in 60 chapters."""
    document = docx.Document()
    paragraph = " ".join(["The keeper climbed the stairs and counted the ships."] * 10)  # 90 words
    for number in range(1, 61):
        document.add_heading(f"Chapter {number}", level=1)
        for _ in range(28):
            document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    started = time.perf_counter()
    text, _ = manuscript.read("novel.docx", out.getvalue(), BOUNDS)
    parts = manuscript.split(text)
    elapsed = time.perf_counter() - started
    assert len(parts) == 60 and sum(p.words for p in parts) == 60 * 28 * 90
    assert elapsed < 30, elapsed


def test_uploads_never_imported_are_cleared_after_a_day_and_imported_text_is_not_kept(writer_client, user):
    upload(writer_client, b"# One\n\nText.", name="old.md")
    upload(writer_client, b"# One\n\nText.", name="fresh.md")
    upload(writer_client, b"# One\n\nText.", name="done.md")
    ManuscriptImport.objects.filter(filename__in=["old.md", "done.md"]).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    done = ManuscriptImport.objects.get(filename="done.md")
    confirm(writer_client, done)
    done.refresh_from_db()
    assert done.text == "" and done.story.chapters.get().content == "Text."
    assert [i.filename for i in ManuscriptImport.objects.abandoned()] == ["old.md"]
