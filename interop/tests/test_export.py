import io
import shutil
import subprocess
import tracemalloc
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.urls import reverse

from interop import export_views
from pictures.models import Picture
from tests.factories import cast, make_chapter, make_character, make_story
from tests.image_servers import png
from tests.responses import streamed_body

pytestmark = pytest.mark.django_db
OPF = "{http://www.idpf.org/2007/opf}"


@pytest.fixture
def story(user):
    story = make_story(user, title="Salt & Iron: <A Tale>", genre="Fantasy", premise="A smith forges a sword.")
    make_chapter(
        story,
        title="The Forge",
        content="Sparks flew.\nThe anvil rang.\n\nZoë smiled 🐉.\n\n"
        "[Mr. Hale]{.smallcaps} had [never]{.underline} come.",
    )
    make_chapter(story, title="The Road", content="They left at dawn.\x0b A stray control character.")
    make_chapter(story, title="Empty", content="")
    return story


def download(client, story, name):
    """The export as the server streams it (in blocks, from an asynchronous iterator as daphne sends it)."""
    response = client.get(reverse(name, args=[story.pk]))
    assert response.status_code == 200
    assert response.streaming and response.is_async

    response.body = streamed_body(response)
    assert int(response["Content-Length"]) == len(response.body)
    return response


def test_markdown_export_has_every_chapter_in_order(writer_client, story):
    response = download(writer_client, story, "story_export_markdown")
    assert response["Content-Disposition"] == 'attachment; filename="salt-iron-a-tale.md"'
    text = response.body.decode()
    assert text.startswith("# Salt & Iron: <A Tale>\n")
    assert text.index("## The Forge") < text.index("## The Road") < text.index("## Empty")
    assert "Sparks flew.\nThe anvil rang.\n\nZoë smiled 🐉." in text


def test_epub_is_a_valid_container_with_one_file_per_chapter(writer_client, story):
    data = download(writer_client, story, "story_export_epub").body
    book = zipfile.ZipFile(io.BytesIO(data))
    first = book.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert book.read("mimetype") == b"application/epub+zip"

    for name in book.namelist():  # every XML document parses
        if name.endswith((".xml", ".opf", ".xhtml", ".ncx")):
            ElementTree.fromstring(book.read(name))

    package = ElementTree.fromstring(book.read("OEBPS/content.opf"))
    metadata = package.find(f"{OPF}metadata")
    assert metadata.find("{http://purl.org/dc/elements/1.1/}title").text == "Salt & Iron: <A Tale>"
    spine = [item.get("idref") for item in package.find(f"{OPF}spine")]
    assert spine == ["title-page", "chapter-1", "chapter-2", "chapter-3"]
    chapter_one = book.read("OEBPS/chapter-1.xhtml").decode()
    assert "<h2>The Forge</h2>" in chapter_one and "Sparks flew.<br />\nThe anvil rang." in chapter_one
    assert '<span class="smallcaps">Mr. Hale</span> had <span class="underline">never</span> come.' in chapter_one
    assert ".smallcaps { font-variant: small-caps; }" in book.read("OEBPS/style.css").decode()
    assert "\x0b" not in book.read("OEBPS/chapter-2.xhtml").decode()


EPUBCHECK = Path("/usr/share/java/epubcheck.jar")  # Debian's epubcheck, installed by `make test`


needs_epubcheck = pytest.mark.skipif(
    not (EPUBCHECK.exists() and shutil.which("java")), reason="needs Debian's epubcheck"
)


def assert_epubcheck_passes(data: bytes, tmp_path):
    path = tmp_path / "book.epub"
    path.write_bytes(data)
    result = subprocess.run(["java", "-jar", str(EPUBCHECK), str(path)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors or warnings detected" in result.stdout + result.stderr


@needs_epubcheck
def test_epub_passes_epubcheck(writer_client, story, tmp_path):
    assert_epubcheck_passes(download(writer_client, story, "story_export_epub").body, tmp_path)


def test_an_empty_story_still_exports(writer_client, user):
    story = make_story(user, title="Blank", premise="")
    book = zipfile.ZipFile(io.BytesIO(download(writer_client, story, "story_export_epub").body))
    assert "OEBPS/title.xhtml" in book.namelist()
    assert download(writer_client, story, "story_export_markdown").body.decode() == "# Blank\n\n*Fantasy*\n"


def test_a_long_book_is_exported_without_holding_it_in_memory(user, rf):
    story = make_story(user, title="Long")
    chapter_text = ("She walked the long road north and did not look back. " * 8000)[:400_000]
    for n in range(24):  # a 9.6 MB book
        make_chapter(story, title=f"Part {n}", content=chapter_text)
    # The view itself, as daphne calls it: the test client would keep every rendered template's context.
    for view in (export_views.export_markdown, export_views.export_epub):
        request = rf.get("/")
        request.user = user
        view(request, make_story(user).pk)  # templates and translations load once
        tracemalloc.start()
        response = view(request, story.pk)  # builds the file; not yet sent
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # A chapter at a time and the file's first megabyte (the rest waits on disk): not the book's 9.6 MB.
        assert peak < 4_000_000, (view.__name__, peak)
        assert int(response["Content-Length"]) > 10_000


@pytest.fixture
def illustrated(story, user):
    """The story with an accepted illustration of its first chapter, a proposed one (not in the book) and a
    portrait of its heroine."""
    forge = story.chapters.get(title="The Forge")
    zoe = make_character(user, name="Zoë")
    cast(story, zoe)
    scene = dict(owner=user, kind=Picture.Kind.SCENE, story=story, chapter=forge, caption="The Forge")
    Picture.store(png(40, 30), status=Picture.Status.ACCEPTED, **scene)
    Picture.store(png(40, 30, colour=(0, 0, 0)), **scene)
    Picture.store(png(30, 40), owner=user, kind=Picture.Kind.PORTRAIT, character=zoe, status=Picture.Status.ACCEPTED)
    return story


def test_the_epub_carries_accepted_illustrations_and_portraits(writer_client, illustrated):
    data = download(writer_client, illustrated, "story_export_epub").body
    book = zipfile.ZipFile(io.BytesIO(data))
    accepted = Picture.objects.filter(status="accepted")
    scene, portrait = accepted.get(kind="scene"), accepted.get(kind="portrait")
    assert book.read(f"OEBPS/images/{scene.pk}.png") == scene.image.read()
    assert len([n for n in book.namelist() if n.startswith("OEBPS/images/")]) == 2  # not the proposal
    package = ElementTree.fromstring(book.read("OEBPS/content.opf"))
    spine = [item.get("idref") for item in package.find(f"{OPF}spine")]
    assert spine == ["title-page", "characters", "chapter-1", "chapter-2", "chapter-3"]
    manifest = {item.get("href"): item.get("media-type") for item in package.find(f"{OPF}manifest")}
    assert manifest[f"images/{portrait.pk}.png"] == "image/png"
    assert (
        f'<img src="images/{scene.pk}.png" alt="Illustration: The Forge"/>'
        in book.read("OEBPS/chapter-1.xhtml").decode()
    )
    assert "Portrait of Zoë" in book.read("OEBPS/characters.xhtml").decode()


@needs_epubcheck
def test_an_illustrated_epub_passes_epubcheck(writer_client, illustrated, tmp_path):
    assert_epubcheck_passes(download(writer_client, illustrated, "story_export_epub").body, tmp_path)


def test_markdown_with_pictures_is_a_folder_with_its_images(writer_client, illustrated):
    response = download(writer_client, illustrated, "story_export_markdown")
    assert response["Content-Disposition"] == 'attachment; filename="salt-iron-a-tale.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.body))
    text = archive.read("salt-iron-a-tale/salt-iron-a-tale.md").decode()
    scene = Picture.objects.get(kind="scene", status="accepted")
    assert f"## The Forge\n\n![Illustration: The Forge](images/{scene.pk}.png)\n\nSparks flew." in text
    assert "## Characters" in text and "**Zoë**" in text
    for line in text.splitlines():
        if line.startswith("!["):
            assert f"salt-iron-a-tale/{line.split('](')[1][:-1]}" in archive.namelist()


def test_a_word_export_keeps_the_formatting_and_imports_back_the_same(writer_client, user, other_client):
    import docx

    from interop import manuscript

    story = make_story(user, title="Salt & Iron", premise="A smith forges a sword.")
    chapters = [
        (
            "The Forge",
            "Sparks *flew*, and **the anvil** rang.\nTwice.\n\n* * *\n\nThe ~~old~~ smith <b>slept</b> & dreamt."
            " [Mr. *Hale*]{.smallcaps} had [never]{.underline} come.",
        ),
        ("The Road", "They left at dawn.\n\n### On the road\n\nRain, then ***sun***."),
        ("Home", "Zoë smiled 🐉.\x0b A stray control character."),
    ]
    for title, content in chapters:
        make_chapter(story, title=title, content=content)
    response = download(writer_client, story, "story_export_docx")
    assert response["Content-Type"] == export_views.DOCX
    assert response["Content-Disposition"] == 'attachment; filename="salt-iron.docx"'

    document = docx.Document(io.BytesIO(response.body))
    assert document.core_properties.title == "Salt & Iron"
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["The Forge", "The Road", "Home"]
    runs = {r.text: r for p in document.paragraphs for r in p.runs if r.text.strip()}
    assert runs["flew"].italic and runs["the anvil"].bold and runs["old"].font.strike
    assert runs["sun"].italic and runs["sun"].bold and any("<b>slept</b> & dreamt." in t for t in runs)
    assert runs["Mr. "].font.small_caps and not runs["Mr. "].italic
    assert runs["Hale"].font.small_caps and runs["Hale"].italic and runs["never"].underline

    text, _ = manuscript.read("back.docx", response.body, manuscript.Bounds(10 << 20, 50 << 20, 10_000_000))
    found = manuscript.spans(text, "headings")
    assert found[0].matter and found[0].title == "Salt & Iron"  # the title page
    back = [(s.title, text[s.start : s.end].strip()) for s in found[1:]]
    chapters[2] = ("Home", "Zoë smiled 🐉. A stray control character.")  # the control character cannot be in Word
    assert back == chapters
    assert other_client.get(reverse("story_export_docx", args=[story.pk])).status_code == 404
