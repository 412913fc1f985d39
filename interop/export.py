"""Export a story as Markdown or as an EPUB 3 book (with an EPUB 2 table of contents for older readers), with the
accepted illustrations at the head of their chapters and the cast's portraits on a page of their own."""

import re
import uuid
import zipfile
from datetime import UTC, datetime

from django.template.loader import render_to_string
from django.utils.text import slugify

from stories.text import markdown_parser

from . import archives

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# XML 1.0 forbids most control characters; a pasted one would make the whole book unreadable.
XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def export_filename(story, extension: str) -> str:
    return f"{slugify(story.title) or 'story'}.{extension}"


def paragraphs(text: str) -> list[str]:
    cleaned = XML_INVALID.sub("", text or "")
    return [p.strip() for p in PARAGRAPH_BREAK.split(cleaned) if p.strip()]


def chapter_xhtml(text: str) -> str:
    """A chapter's text (the app's Markdown: *italic*, **bold**, ~~struck~~, [small caps]{.smallcaps},
    [underlined]{.underline}, headings, scene breaks) as XHTML for an e-book, by the same CommonMark parser that
    reads Markdown in, with raw HTML in the text escaped as text and a line break inside a paragraph kept as
    <br />."""
    return markdown_parser(xhtmlOut=True, breaks=True).render(XML_INVALID.sub("", text or ""))


def story_docx(story, chapters, author_name: str, out) -> None:
    """Write a Word document to the binary file `out`: a title page (title, author, premise), then each chapter
    under a Heading 1 with its text's headings, formatting (italic, bold, strikethrough, small caps, underline),
    line breaks and scene breaks as Word has them, so it reads in Word or LibreOffice as written and imports back
    the same. Chapters are read one at a time."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK

    document = docx.Document()
    document.core_properties.title = XML_INVALID.sub("", story.title)[:255]
    document.core_properties.author = XML_INVALID.sub("", author_name)[:255]
    document.add_paragraph(XML_INVALID.sub("", story.title), style="Title")
    document.add_paragraph(XML_INVALID.sub("", author_name))
    for paragraph in paragraphs(story.premise):
        document.add_paragraph(paragraph)
    for chapter in each_chapter(chapters, "title", "content"):
        document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        document.add_heading(XML_INVALID.sub("", chapter.title), level=1)
        for block in markdown_blocks(chapter.content):
            if block["kind"] == "break":
                document.add_paragraph("* * *").alignment = WD_ALIGN_PARAGRAPH.CENTER
                continue
            level = block["level"]
            paragraph = document.add_heading(level=min(level, 9)) if level else document.add_paragraph()
            for text, looks in block["runs"]:
                if text == "\n":
                    paragraph.add_run().add_break()
                    continue
                run = paragraph.add_run(text)
                run.italic, run.bold = ("italic" in looks) or None, ("bold" in looks) or None
                run.font.strike, run.font.small_caps = ("struck" in looks) or None, ("smallcaps" in looks) or None
                run.underline = ("underline" in looks) or None
    document.save(out)


# The parser's tokens that open and close each kind of formatting.
LOOKS = {"em": "italic", "strong": "bold", "s": "struck"}


def markdown_blocks(text: str) -> list[dict]:
    """A chapter's text (the app's Markdown) as blocks: {"kind": "text" or "break", "level": heading level or 0,
    "runs": [(text, looks)]} where looks is the set of "italic", "bold", "struck", "smallcaps", "underline" on
    the run and a line break is the run "\\n", by the CommonMark parser."""
    tokens = markdown_parser(breaks=True).parse(XML_INVALID.sub("", text or ""))
    blocks, level = [], 0
    for token in tokens:
        if token.type == "heading_open":
            level = int(token.tag[1])
        elif token.type == "hr":
            blocks.append({"kind": "break", "level": 0, "runs": []})
        elif token.type == "inline":
            runs, depth, spans = [], dict.fromkeys(["italic", "bold", "struck", "smallcaps", "underline"], 0), []
            for child in token.children or []:
                kind, _, edge = child.type.rpartition("_")
                if kind in LOOKS and edge in ("open", "close"):
                    depth[LOOKS[kind]] += 1 if edge == "open" else -1
                elif child.type == "span_open":
                    spans.append(str(child.attrs.get("class", "")).split())
                    for mark in spans[-1]:
                        depth[mark] = depth.get(mark, 0) + 1
                elif child.type == "span_close" and spans:
                    for mark in spans.pop():
                        depth[mark] -= 1
                elif child.type in ("softbreak", "hardbreak"):
                    runs.append(("\n", frozenset()))
                elif child.type in ("text", "code_inline", "html_inline") and child.content:
                    runs.append((child.content, frozenset(k for k, v in depth.items() if v > 0)))
            blocks.append({"kind": "text", "level": level, "runs": runs})
            level = 0
    return blocks


def paragraph_lines(text: str) -> list[list[str]]:
    """Paragraphs as lists of lines: XHTML needs <br/> between lines, which a template adds."""
    return [paragraph.splitlines() for paragraph in paragraphs(text)]


def each_chapter(chapters, *fields):
    """The chapters one at a time, each loaded on its own, so a whole novel is never in memory at once."""
    for pk in list(chapters.values_list("pk", flat=True)):
        chapter = chapters.only(*fields).filter(pk=pk).first()
        if chapter is not None:  # deleted while the export ran
            yield chapter


class BookPictures:
    """The pictures that go into a book: accepted illustrations by chapter, and the cast's current portraits as
    (name, picture) pairs. Each has a file name inside the book."""

    def __init__(self, scenes: dict | None = None, portraits: list | None = None):
        self.scenes, self.portraits = scenes or {}, portraits or []

    def __bool__(self):
        return bool(self.scenes or self.portraits)

    @staticmethod
    def name(picture) -> str:
        return f"images/{picture.pk}.{picture.image.name.rsplit('.', 1)[-1]}"

    def all(self) -> list:
        return [p for _, p in self.portraits] + [p for scenes in self.scenes.values() for p in scenes]

    def copy_into(self, book: zipfile.ZipFile, folder: str):
        """Each picture's file, one at a time (already compressed, so stored as it is)."""
        for picture in self.all():
            archives.copy_file(picture.image, book, folder + self.name(picture))


def markdown_image(caption: str, path: str) -> str:
    return f"![{caption.replace('[', '(').replace(']', ')')}]({path})"


def write_markdown(story, chapters, pictures: BookPictures, out) -> None:
    lines = [f"# {story.title}"]
    if story.genre:
        lines += ["", f"*{story.genre}*"]
    if story.premise:
        lines += [""] + [f"> {line}" if line else ">" for line in story.premise.splitlines()]
    if pictures.portraits:
        lines += ["", "## Characters"]
        for name, picture in pictures.portraits:
            lines += ["", markdown_image(f"Portrait of {name}", pictures.name(picture)), "", f"**{name}**"]
    out.write(("\n".join(lines) + "\n").encode())
    for chapter in each_chapter(chapters, "title", "content"):
        blocks = ["", f"## {chapter.title}"]
        for picture in pictures.scenes.get(chapter.pk, []):
            blocks += ["", markdown_image(f"Illustration: {picture.caption or chapter.title}", pictures.name(picture))]
        blocks += [block for p in paragraphs(chapter.content) for block in ("", p)]
        out.write(("\n".join(blocks) + "\n").encode())


def story_markdown(story, chapters, out, pictures: BookPictures | None = None) -> None:
    """Write the book as Markdown (UTF-8) to the binary file `out`; with pictures, a zip of a folder holding the
    Markdown and an images/ folder beside it."""
    pictures = pictures or BookPictures()
    if not pictures:
        write_markdown(story, chapters, pictures, out)
        return
    folder = slugify(story.title) or "story"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{folder}/{folder}.md", "w") as text:
            write_markdown(story, chapters, pictures, text)
        pictures.copy_into(archive, f"{folder}/")


def story_epub(story, chapters, author_name: str, out, pictures: BookPictures | None = None) -> None:
    """Write a valid EPUB 3 to the binary file `out`: stored mimetype first, container, package document, nav, NCX,
    a page of the cast's portraits (if any), one XHTML per chapter with its illustrations, the images. Chapters
    are read one at a time (the table of contents needs only their titles)."""
    pictures = pictures or BookPictures()
    book_id = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'storyassistant:story:{story.pk}')}"
    items = [
        {
            "id": f"chapter-{index}",
            "href": f"chapter-{index}.xhtml",
            "title": XML_INVALID.sub("", chapter.title),
            "pk": chapter.pk,
            "illustrations": [
                {"src": pictures.name(p), "alt": XML_INVALID.sub("", f"Illustration: {p.caption or chapter.title}")}
                for p in pictures.scenes.get(chapter.pk, [])
            ],
        }
        for index, chapter in enumerate(chapters.only("pk", "title"), start=1)
    ]
    if pictures.portraits:
        items.insert(0, {"id": "characters", "href": "characters.xhtml", "title": "Characters", "pk": None})
    images = [{"id": f"image-{p.pk}", "href": pictures.name(p), "media_type": p.content_type} for p in pictures.all()]
    portraits = [{"name": XML_INVALID.sub("", name), "src": pictures.name(p)} for name, p in pictures.portraits]
    context = {
        "story": story,
        "title": XML_INVALID.sub("", story.title),
        "author": XML_INVALID.sub("", author_name),
        "premise": paragraph_lines(story.premise),
        "book_id": book_id,
        "modified": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "items": items,
        "images": images,
        "portraits": portraits,
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
        if portraits:
            book.writestr(
                "OEBPS/characters.xhtml",
                render_to_string("stories/epub/characters.xhtml", context),
                compress_type=zipfile.ZIP_DEFLATED,
            )
        for item in items:
            if item["pk"] is None:
                continue
            chapter = chapters.only("content").filter(pk=item["pk"]).first()
            item = {**item, "html": chapter_xhtml(chapter.content if chapter else "")}
            book.writestr(
                f"OEBPS/{item['href']}",
                render_to_string("stories/epub/chapter.xhtml", {**context, "item": item}),
                compress_type=zipfile.ZIP_DEFLATED,
            )
        pictures.copy_into(book, "OEBPS/")
