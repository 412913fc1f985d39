"""Export a story as Markdown or as an EPUB 3 book (with an EPUB 2 table of contents for older readers)."""

import re
import uuid
import zipfile
from datetime import UTC, datetime

from django.template.loader import render_to_string
from django.utils.text import slugify

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# XML 1.0 forbids most control characters; a pasted one would make the whole book unreadable.
XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def export_filename(story, extension: str) -> str:
    return f"{slugify(story.title) or 'story'}.{extension}"


def paragraphs(text: str) -> list[str]:
    cleaned = XML_INVALID.sub("", text or "")
    return [p.strip() for p in PARAGRAPH_BREAK.split(cleaned) if p.strip()]


def paragraph_lines(text: str) -> list[list[str]]:
    """Paragraphs as lists of lines: XHTML needs <br/> between lines, which a template adds."""
    return [paragraph.splitlines() for paragraph in paragraphs(text)]


def each_chapter(chapters, *fields):
    """The chapters one at a time, each loaded on its own, so a whole novel is never in memory at once."""
    for pk in list(chapters.values_list("pk", flat=True)):
        chapter = chapters.only(*fields).filter(pk=pk).first()
        if chapter is not None:  # deleted while the export ran
            yield chapter


def story_markdown(story, chapters, out) -> None:
    """Write the book as Markdown (UTF-8) to the binary file `out`."""
    lines = [f"# {story.title}"]
    if story.genre:
        lines += ["", f"*{story.genre}*"]
    if story.premise:
        lines += [""] + [f"> {line}" if line else ">" for line in story.premise.splitlines()]
    out.write(("\n".join(lines) + "\n").encode())
    for chapter in each_chapter(chapters, "title", "content"):
        blocks = ["", f"## {chapter.title}"] + [block for p in paragraphs(chapter.content) for block in ("", p)]
        out.write(("\n".join(blocks) + "\n").encode())


def story_epub(story, chapters, author_name: str, out) -> None:
    """Write a valid EPUB 3 to the binary file `out`: stored mimetype first, container, package document, nav, NCX,
    one XHTML per chapter. Chapters are read one at a time (the table of contents needs only their titles)."""
    book_id = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'storyassistant:story:{story.pk}')}"
    items = [
        {
            "id": f"chapter-{index}",
            "href": f"chapter-{index}.xhtml",
            "title": XML_INVALID.sub("", chapter.title),
            "pk": chapter.pk,
        }
        for index, chapter in enumerate(chapters.only("pk", "title"), start=1)
    ]
    context = {
        "story": story,
        "title": XML_INVALID.sub("", story.title),
        "author": XML_INVALID.sub("", author_name),
        "premise": paragraph_lines(story.premise),
        "book_id": book_id,
        "modified": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "items": items,
    }
    with zipfile.ZipFile(out, "w") as book:
        # The mimetype entry must come first and be stored uncompressed (OCF container rules).
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        files = {
            "META-INF/container.xml": "stories/epub/container.xml",
            "OEBPS/content.opf": "stories/epub/content.opf",
            "OEBPS/nav.xhtml": "stories/epub/nav.xhtml",
            "OEBPS/toc.ncx": "stories/epub/toc.ncx",
            "OEBPS/title.xhtml": "stories/epub/title.xhtml",
            "OEBPS/style.css": "stories/epub/style.css",
        }
        for name, template in files.items():
            book.writestr(name, render_to_string(template, context), compress_type=zipfile.ZIP_DEFLATED)
        for item in items:
            chapter = chapters.only("content").filter(pk=item["pk"]).first()
            item = {**item, "paragraphs": paragraph_lines(chapter.content if chapter else "")}
            book.writestr(
                f"OEBPS/{item['href']}",
                render_to_string("stories/epub/chapter.xhtml", {**context, "item": item}),
                compress_type=zipfile.ZIP_DEFLATED,
            )
