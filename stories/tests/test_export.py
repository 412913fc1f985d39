import io
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.urls import reverse

from tests.factories import make_chapter, make_story

pytestmark = pytest.mark.django_db
OPF = "{http://www.idpf.org/2007/opf}"


@pytest.fixture
def story(user):
    story = make_story(user, title="Salt & Iron: <A Tale>", genre="Fantasy", premise="A smith forges a sword.")
    make_chapter(story, title="The Forge", content="Sparks flew.\nThe anvil rang.\n\nZoë smiled 🐉.")
    make_chapter(story, title="The Road", content="They left at dawn.\x0b A stray control character.")
    make_chapter(story, title="Empty", content="")
    return story


def download(client, story, name):
    response = client.get(reverse(name, args=[story.pk]))
    assert response.status_code == 200
    return response


def test_markdown_export_has_every_chapter_in_order(writer_client, story):
    response = download(writer_client, story, "story_export_markdown")
    assert response["Content-Disposition"] == 'attachment; filename="salt-iron-a-tale.md"'
    text = response.content.decode()
    assert text.startswith("# Salt & Iron: <A Tale>\n")
    assert text.index("## The Forge") < text.index("## The Road") < text.index("## Empty")
    assert "Sparks flew.\nThe anvil rang.\n\nZoë smiled 🐉." in text


def test_epub_is_a_valid_container_with_one_file_per_chapter(writer_client, story):
    data = download(writer_client, story, "story_export_epub").content
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
    assert "<h2>The Forge</h2>" in chapter_one and "Sparks flew.<br/>The anvil rang." in chapter_one
    assert "\x0b" not in book.read("OEBPS/chapter-2.xhtml").decode()


EPUBCHECK = Path("/usr/share/java/epubcheck.jar")  # Debian's epubcheck, installed by `make test`


@pytest.mark.skipif(not (EPUBCHECK.exists() and shutil.which("java")), reason="needs Debian's epubcheck")
def test_epub_passes_epubcheck(writer_client, story, tmp_path):
    path = tmp_path / "book.epub"
    path.write_bytes(download(writer_client, story, "story_export_epub").content)
    result = subprocess.run(["java", "-jar", str(EPUBCHECK), str(path)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors or warnings detected" in result.stdout + result.stderr


def test_an_empty_story_still_exports(writer_client, user):
    story = make_story(user, title="Blank", premise="")
    book = zipfile.ZipFile(io.BytesIO(download(writer_client, story, "story_export_epub").content))
    assert "OEBPS/title.xhtml" in book.namelist()
    assert download(writer_client, story, "story_export_markdown").content.decode() == "# Blank\n\n*Fantasy*\n"
