"""Reading a manuscript (DOCX, EPUB, Markdown or plain text) into Markdown-like text, and splitting it into
chapters.

A manuscript is hostile until read: `read_upload` runs in a limited child process (core.sandbox), so
this module is plain Python with no Django. Everything is bounded while it is read, not after: the number of
entries and the bytes a DOCX or EPUB expands to (a reader stops at the limit whatever the zip's headers claim),
the characters read so far (counted as they come, so a book that lists one chapter a thousand times stops at the
limit), and XML is parsed with entities and network access off, a Word document as a stream. Formatting is kept
as the app's Markdown (*italic*, **bold**, ~~struck~~, [small caps]{.smallcaps}, [underlined]{.underline});
headings become "# " lines, which is where chapters split by default.
Every pass is linear in the text: string methods, no pattern that can backtrack over a run of spaces.
"""

import codecs
import itertools
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from urllib.parse import unquote

from lxml import etree
from lxml import html as lxml_html

from core.sandbox import Unreadable
from stories.text import CHAPTER_MAX_CHARS, count_words, markdown_parser, marked, without_spans, wrapped

from . import archives

FORMATS = {"docx": "Word document", "epub": "EPUB e-book", "md": "Markdown", "txt": "Plain text"}
SPLITS = {
    "contents": "By the book's table of contents",
    "headings": "At chapter headings (the heading level the book uses most; parts and titles above it kept)",
    "chapter-lines": "At lines that start with Chapter, Part, Prologue or Epilogue",
    "scene-breaks": "At scene breaks (***, * * *, ###)",
    "custom": "At lines that start with a word I choose",
    "none": "Do not split: one chapter",
}
# The splits that need nothing from the writer, worked out once when the manuscript is read ("contents" too, from
# the e-book's own table of contents, when it has one).
FIXED_SPLITS = ("headings", "chapter-lines", "scene-breaks", "none")
NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
    "eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|first|second|third|fourth|"
    "fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last|final"
)
# "Chapter 12", "PART THREE — The Sea", "Book II. Of Ships", "Chapter Twenty-One: Why?", "Prologue": a word, a
# numeral or number word (joined by hyphens or spaces), then any title. Each part is a bounded run with no
# nested repetition, so it cannot backtrack over a long line.
CHAPTER_LINE_RE = re.compile(
    r"^(?:(?:chapter|part|book|act|volume)[ \t]+"
    rf"(?:\d{{1,4}}|[ivxlcdm]{{1,8}}|(?:{NUMBER_WORDS})(?:[- ](?:{NUMBER_WORDS})){{0,2}})"
    r"|prologue|epilogue|interlude|afterword|foreword)\b[.:)]?"
    r"(?:(?P<sep>[ \t]*[-–—:.][ \t]*|[ \t]+)(?P<title>\S.{0,120}))?$",
    re.IGNORECASE,
)
# Titles of front and back matter: offered in the preview as "not a chapter", left out unless the writer keeps them.
MATTER_RE = re.compile(
    r"^(?:(?:table of )?contents|copyright(?: page)?|imprint|colophon|uncopyright|licen[cs]e|dedication|"
    r"title page|half title|also by .{1,60}|about the (?:author|publisher)|acknowledge?ments|"
    r"the full project gutenberg licen[cs]e|project gutenberg.{0,60})$",
    re.IGNORECASE,
)
WORD_RE = re.compile(r"\w+")
# A line the e-book reader puts where a table-of-contents entry starts, never kept; a private-use character, since
# control characters count as whitespace and a strip() would eat them.
TOC_MARK = "\ue000TOC\ue000"
MATTER_MARK = "\ue000M\ue000"  # after TOC_MARK: the entry is front or back matter by the book's own markup
# EPUB structural semantics (epub:type) that mark a document as front or back matter, not a chapter.
MATTER_TYPES = {
    "frontmatter",
    "backmatter",
    "titlepage",
    "halftitlepage",
    "colophon",
    "copyright-page",
    "imprint",
    "toc",
    "dedication",
    "acknowledgments",
    "appendix",
    "endnotes",
    "loi",
    "lot",
    "index",
    "epigraph",
}
EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
MAX_ZIP_ENTRIES = 2000
MAX_STYLES_BYTES = 5 * 1024 * 1024
# More chapters than any book has: a split past this is refused with the reason, not shown as 100,000 parts.
MAX_PARTS = 2000
BLOCK_TAGS = {"p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr"}
SCENE_BREAK = "* * *"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class ManuscriptError(Unreadable):
    """The file cannot be imported; the message says why, for the writer. Nothing was saved."""


@dataclass(frozen=True)
class Bounds:
    max_bytes: int  # the file as uploaded
    max_unzipped: int  # what a DOCX or EPUB may expand to
    max_chars: int  # the manuscript's text


@dataclass
class Part:
    title: str
    content: str
    note: str = ""  # why this is not one of the book's own chapters (one too long to be a chapter, split)

    @property
    def words(self) -> int:
        return count_words(self.content)


def read_upload(data: bytes, folder, *, filename: str, max_bytes: int, max_unzipped: int, max_chars: int) -> dict:
    """The sandbox's entry point: the text into `folder`/text.md, and its format and fixed splits (as spans of
    the text) as the answer."""
    text, kind = read(filename, data, Bounds(max_bytes, max_unzipped, max_chars))
    text, contents = table_of_contents(text)
    (folder / "text.md").write_text(text, encoding="utf-8")
    splits = {how: stored_split(text, how) for how in FIXED_SPLITS}
    if contents:
        splits["contents"] = stored_spans(text, contents_spans(text, contents))
    return {"format": kind, "splits": splits}


def zip_format(archive: zipfile.ZipFile) -> str:
    """A zip is a Word document or an e-book by what it holds, whatever its name."""
    names = set(archive.namelist())
    if "word/document.xml" in names:
        return "docx"
    if "META-INF/container.xml" in names:
        return "epub"
    raise ManuscriptError("This zip file is neither a Word document (.docx) nor an EPUB e-book.")


# What other files start with, so a picture or a PDF sent as a manuscript is named, with where it belongs.
NOT_TEXT = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"{\\rtf", "an RTF document"), (b"\xd0\xcf\x11\xe0", "an old Word (.doc) document"),
)  # fmt: skip


def not_a_manuscript(data: bytes) -> str | None:
    """Why these bytes are no manuscript, with the fix, for the files people send by mistake."""
    found = next((what for magic, what in NOT_TEXT if data.startswith(magic)), None)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        found = "a WebP image"
    if found is None:
        return None
    if found.endswith("image"):
        return (
            f"This is {found}, not a manuscript. To import a character card (a PNG with a card in it), use "
            "Characters → Import card; to add a picture, use a story's Pictures page."
        )
    return f"This is {found}, which cannot be imported: save it as .docx, .epub, .md or .txt."


def text_format(filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension in ("doc", "rtf", "odt", "pdf", "pages"):
        raise ManuscriptError(f"{extension.upper()} files cannot be imported: save it as .docx, .epub, .md or .txt.")
    return "md" if extension in ("md", "markdown") else "txt"


def read(filename: str, data: bytes, bounds: Bounds) -> tuple[str, str]:
    """The manuscript as text with "# " headings, and its format."""
    if len(data) > bounds.max_bytes:
        raise ManuscriptError(f"The file is larger than {bounds.max_bytes // (1024 * 1024)} MB.")
    counter = Counter(bounds.max_chars)
    if data[:4] == b"PK\x03\x04":  # from the content first: the name only tells text formats apart
        archive = open_zip(data, bounds)
        kind = zip_format(archive)
        reader = archives.Reader(archive, bounds.max_unzipped)
        try:
            text = read_docx(reader, counter) if kind == "docx" else read_epub(reader, counter)
        except archives.TooLarge as exc:
            raise ManuscriptError(TOO_BIG) from exc
        except archives.Damaged as exc:
            raise ManuscriptError(f"The file is damaged: {str(exc)[:200]}.") from exc
    else:
        if reason := not_a_manuscript(data[:16]):
            raise ManuscriptError(reason)
        kind, text = text_format(filename), decode(data).replace("\ue000", "")
        counter.add(len(text))
        text = markdown_text(text) if kind == "md" else reflow(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"\n{3,}", "\n\n", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise ManuscriptError("The file has no text in it.")
    return text, kind


class Counter:
    """Characters read so far; past the limit, reading stops with the reason."""

    def __init__(self, limit: int):
        self.limit, self.total = limit, 0

    def add(self, size: int):
        self.total += size
        if self.total > self.limit:
            raise ManuscriptError(f"The manuscript has more than {self.limit:,} characters.")


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding).replace("\x00", "")
        except UnicodeDecodeError:
            continue
    raise ManuscriptError("The text is in an encoding this app cannot read; save it as UTF-8.")


def open_zip(data: bytes, bounds: Bounds) -> zipfile.ZipFile:
    """The archive, once its declared sizes show it is not a zip bomb (checked again while reading)."""
    try:
        return archives.open_zip(data, max_entries=MAX_ZIP_ENTRIES, max_unzipped=bounds.max_unzipped)
    except archives.Damaged as exc:
        raise ManuscriptError("The file looks like a Word document or an e-book but is damaged.") from exc
    except archives.TooLarge as exc:
        raise ManuscriptError("The file expands to far more than a manuscript could; it was refused.") from exc


TOO_BIG = "The file expands to far more than a manuscript could; it was refused."


# --- text and Markdown -----------------------------------------------------------------------------------------


def markdown_text(text: str) -> str:
    """Markdown read by a CommonMark parser (HTML in it allowed, as manuscripts use it) and taken back to the app's
    text like an e-book's XHTML: headings at their level, emphasis, strikethrough, small caps and underline kept,
    scene breaks kept,
    comments, styles and scripts dropped, wrapper tags (<div>, <section>) unwrapped."""
    rendered = markdown_parser(html=True).render(text)
    return xhtml_text(f"<html><body>{rendered}</body></html>".encode())


WRAPPED_SHARE = 0.5  # of lines followed by another line of the same paragraph: the file is hard-wrapped


def reflow(text: str) -> str:
    """A hard-wrapped text file (lines broken at a fixed width, paragraphs between blank lines, as e-text archives
    make them) with each paragraph on one line again. A paragraph whose lines are not all near the wrap width
    (verse, a letter's address, a table) keeps its line breaks, as does a chapter line. Linear."""
    lines = text.split("\n")
    lengths = sorted(len(line.rstrip()) for line in lines if line.strip())
    if len(lengths) < 20:
        return text
    width = lengths[int(len(lengths) * 0.9)]  # nine lines in ten are no longer than the wrap width
    joined = sum(1 for a, b in zip(lines, lines[1:], strict=False) if a.strip() and b.strip())
    blank = len(lines) - len(lengths)
    # Wrapped paragraphs have blank lines between them; a file of one sentence a line has none.
    if not 40 <= width <= 100 or joined < WRAPPED_SHARE * len(lengths) or blank < 0.05 * len(lengths):
        return text
    out, paragraph = [], []

    def flush():
        wrapped = len(paragraph) > 1 and all(len(line.rstrip()) >= 0.6 * width for line in paragraph[:-1])
        if wrapped and not chapter_line(paragraph[0].strip()):
            out.append(" ".join(line.strip() for line in paragraph))
        else:
            out.extend(paragraph)
        paragraph.clear()

    for line in lines:
        if line.strip():
            paragraph.append(line)
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out)


# --- emphasis ------------------------------------------------------------------------------------------------------


def styled(text: str, italic, bold) -> str:
    """A run's text with Markdown emphasis, keeping surrounding spaces outside the markers."""
    if not (italic or bold):
        return text
    marker = "***" if italic and bold else "**" if bold else "*"
    return wrapped(text, marker, marker)


def plain_heading(text: str, level: int = 1) -> str:
    """A heading line at its level ("## " for a second-level heading), without emphasis markers."""
    return "#" * min(max(level, 1), 6) + " " + without_spans(text).replace("*", "").replace("_", "").strip()


def heading_style_level(style: str) -> int | None:
    """A Word paragraph style's heading level ("heading 2" -> 2, "title" -> 1), else None."""
    if style in ("title", "toc heading"):  # a contents field's heading: offered as front matter by its title
        return 1
    if style.startswith("heading"):
        number = style[7:].strip()
        return int(number) if number.isdigit() and 1 <= int(number) <= 6 else 1
    return None


# --- DOCX ----------------------------------------------------------------------------------------------------------


def _on(element) -> bool:
    """A Word toggle property (<w:i/>, <w:b w:val="0"/>) is on."""
    return element is not None and (element.get(W + "val") or "true").lower() not in ("0", "false", "off", "none")


def style_names(reader: archives.Reader) -> dict[str, str]:
    """Paragraph style ids to their names, in lower case ("Heading1" -> "heading 1")."""
    if "word/styles.xml" not in reader.archive.namelist():
        return {}
    root = xml(reader.read("word/styles.xml", MAX_STYLES_BYTES), "Word document")
    names = {}
    for style in root.iterfind(f"{W}style"):
        name = style.find(f"{W}name")
        names[style.get(f"{W}styleId") or ""] = (name.get(f"{W}val") if name is not None else "") or ""
    return {k: v.lower() for k, v in names.items()}


def _run_text(run) -> str:
    out = []
    for child in run:
        if child.tag == W + "t":
            out.append(child.text or "")
        elif child.tag == W + "tab":
            out.append("\t")
        elif child.tag in (W + "br", W + "cr"):
            out.append("\n")
        elif child.tag == W + "noBreakHyphen":
            out.append("-")
    return "".join(out)


def _looks(properties) -> frozenset:
    """The formatting a run's properties (<w:rPr>) turn on."""
    if properties is None:
        return frozenset()
    tags = {"italic": ("i",), "bold": ("b",), "struck": ("strike", "dstrike"), "smallcaps": ("smallCaps",),
            "underline": ("u",)}  # fmt: skip
    return frozenset(look for look, names in tags.items() if any(_on(properties.find(W + n)) for n in names))


def paragraph_text(paragraph) -> str:
    """The paragraph's runs (in hyperlinks, insertions and content controls too; deleted text is not in <w:t>),
    neighbouring runs of the same formatting joined before it is marked."""
    segments: list[list] = []  # [text, looks]
    for run in paragraph.iter(W + "r"):
        text = _run_text(run)
        if not text:
            continue
        looks = _looks(run.find(W + "rPr"))
        if segments and segments[-1][1] == looks:
            segments[-1][0] += text
        else:
            segments.append([text, looks])
    return nested([(text, looks) for text, looks in segments]).strip()


NESTING = ("smallcaps", "underline", "struck", "bold", "italic")  # outermost first, as the app writes them


def nested(segments: list[tuple[str, frozenset]], order: tuple = NESTING) -> str:
    """Runs of text, each with the formatting it has, as the app's Markdown: neighbouring runs sharing a look are
    marked once around all of them ("[Mr. *Hale*]{.smallcaps}", not two spans), so Word's flat runs read back as
    the text they were written from. Each run is looked at once per kind of formatting: linear."""
    if not order:
        return "".join(text for text, _ in segments)
    mark, rest = order[0], order[1:]
    out = []
    for on, group in itertools.groupby(segments, key=lambda segment: mark in segment[1]):
        inner = nested(list(group), rest)
        if not on or not inner.strip():
            out.append(inner)
        elif mark in ("smallcaps", "underline"):
            out.append(marked(inner, mark))
        elif mark == "struck":
            out.append(wrapped(inner, "~~", "~~"))
        else:
            out.append(styled(inner, mark == "italic", mark == "bold"))
    return "".join(out)


def read_docx(reader: archives.Reader, counter: Counter) -> str:
    """The document's paragraphs in order, read as a stream: each is let go once read, so memory follows the
    text, not the XML around it."""
    styles = style_names(reader)
    blocks = []
    stream = reader.open("word/document.xml")
    parser = etree.iterparse(
        stream, events=("end",), tag=W + "p", resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        for _, paragraph in parser:
            text = paragraph_text(paragraph)
            style_id = paragraph.find(f"{W}pPr/{W}pStyle")
            style = styles.get(style_id.get(W + "val"), "") if style_id is not None else ""
            style = style or (style_id.get(W + "val", "").lower() if style_id is not None else "")
            paragraph.clear(keep_tail=False)
            while paragraph.getprevious() is not None:
                del paragraph.getparent()[0]
            if not text:
                continue
            counter.add(len(text) + 2)
            level = heading_style_level(style)
            blocks.append(plain_heading(text, level) if level else text)
    except etree.XMLSyntaxError as exc:
        raise ManuscriptError("The Word document is damaged: it could not be read.") from exc
    finally:
        stream.close()
    return "\n\n".join(blocks)


# --- EPUB ----------------------------------------------------------------------------------------------------------


def xml(data: bytes, what: str = "e-book"):
    try:
        return etree.fromstring(data, SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise ManuscriptError(f"The {what} is damaged: its contents could not be read.") from exc


def read_epub(reader: archives.Reader, counter: Counter) -> str:
    """The spine's documents in reading order (each once), headings and paragraphs, with emphasis."""
    container = xml(reader.read("META-INF/container.xml"))
    rootfile = container.find(".//{*}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise ManuscriptError("The e-book is damaged: it does not say where its contents are.")
    opf_path = rootfile.get("full-path")
    package = xml(reader.read(opf_path))
    base = posixpath.dirname(opf_path)
    manifest = {item.get("id"): item for item in package.iterfind(".//{*}manifest/{*}item")}
    anchors = contents_anchors(reader, package, manifest, base)
    parts, seen = [], set()
    for itemref in package.iterfind(".//{*}spine/{*}itemref"):
        item = manifest.get(itemref.get("idref"))
        if item is None or "html" not in (item.get("media-type") or "") or "nav" in (item.get("properties") or ""):
            continue
        path = posixpath.normpath(posixpath.join(base, item.get("href", "")))
        if path in seen:  # a spine that lists a document twice reads it once
            continue
        seen.add(path)
        text = xhtml_text(reader.read(path), anchors.get(path, {}))
        if text:
            counter.add(len(text) + 2)
            parts.append(text)
    return "\n\n".join(parts)


def _resolve(base: str, href: str) -> tuple[str, str]:
    """An href in the table of contents as (path in the archive, fragment)."""
    path, _, fragment = (href or "").partition("#")
    return posixpath.normpath(posixpath.join(base, unquote(path))), fragment


def _chapters(items: list, children, target, depth: int = 0) -> list:
    """The table's chapters: its top level, except that an entry whose children are other documents (a part, or a
    half-title page over the whole book) is followed by its children, one level further down at most twice.
    Children inside the entry's own document are its sections, and stay inside it."""
    out = []
    for item in items:
        out.append(item)
        kids = children(item)
        if kids and depth < 2 and any(target(kid)[0] != target(item)[0] for kid in kids):
            out += _chapters(kids, children, target, depth + 1)
    return out


def contents_anchors(reader, package, manifest, base) -> dict[str, dict[str, list[str]]]:
    """The e-book's own chapters, from its navigation document (EPUB 3) or its NCX (EPUB 2): for each document,
    the fragment ids where a chapter's entry starts ("" for the document's start) and the entries' titles."""
    entries = []  # (path, fragment, title)
    nav = next((i for i in manifest.values() if "nav" in (i.get("properties") or "").split()), None)
    if nav is not None:
        nav_path = posixpath.normpath(posixpath.join(base, nav.get("href", "")))
        root = xml(reader.read(nav_path))
        navs = root.findall(".//{*}nav")
        toc = next((n for n in navs if n.get("{http://www.idpf.org/2007/ops}type") == "toc"), navs[0] if navs else None)
        top = toc.find("{*}ol") if toc is not None else None
        if top is not None:

            def target(li):
                link = li.find("{*}a")
                return _resolve(posixpath.dirname(nav_path), link.get("href") if link is not None else "")

            for li in _chapters(top.findall("{*}li"), lambda li: li.findall("{*}ol/{*}li"), target):
                link = li.find("{*}a")
                if link is not None and link.get("href"):
                    entries.append((*target(li), " ".join("".join(link.itertext()).split())))
    spine = package.find(".//{*}spine")
    ncx = manifest.get(spine.get("toc")) if spine is not None else None
    if not entries and ncx is not None:
        ncx_path = posixpath.normpath(posixpath.join(base, ncx.get("href", "")))
        root = xml(reader.read(ncx_path))
        nav_map = root.find(".//{*}navMap")

        def source(point):
            content = point.find("{*}content")
            return _resolve(posixpath.dirname(ncx_path), content.get("src") if content is not None else "")

        points = nav_map.findall("{*}navPoint") if nav_map is not None else []
        for point in _chapters(points, lambda point: point.findall("{*}navPoint"), source):
            label, content = point.find("{*}navLabel"), point.find("{*}content")
            if content is not None and content.get("src"):
                title = " ".join("".join(label.itertext()).split()) if label is not None else ""
                entries.append((*source(point), title))
    anchors: dict[str, dict[str, list[str]]] = {}
    for path, fragment, title in entries[:MAX_PARTS]:
        anchors.setdefault(path, {}).setdefault(fragment, []).append(title.replace("\ue000", ""))
    return anchors


def _leaf_blocks(root) -> list:
    """Block elements with no block inside them, in document order, in one pass over the tree."""
    has_block_inside = set()
    blocks = []
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in BLOCK_TAGS:
            blocks.append(element)
            parent = element.getparent()
            while parent is not None and parent not in has_block_inside:
                has_block_inside.add(parent)
                parent = parent.getparent()
    return [b for b in blocks if b not in has_block_inside]


XML_ENCODING = re.compile(rb"""<\?xml[^>]{0,100}?encoding=["']([A-Za-z0-9._-]{1,40})["']""")


def _declared_encoding(data: bytes) -> str:
    """An XHTML document's encoding: the XML declaration's, else UTF-8 (XML's default; an HTML parser left to
    guess takes bytes for Latin-1)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    declared = XML_ENCODING.match(data[:200])
    try:
        return codecs.lookup(declared.group(1).decode("ascii")).name if declared else "utf-8"
    except LookupError:
        return "utf-8"


def xhtml_text(data: bytes, anchors: dict[str, list[str]] | None = None) -> str:
    """The document's blocks, headings at their level. `anchors` (fragment id -> table-of-contents titles, "" for
    the document's start) put a TOC_MARK line before the first block with text at or after each target."""
    try:
        root = lxml_html.fromstring(data, parser=lxml_html.HTMLParser(encoding=_declared_encoding(data)))
    except (etree.ParserError, ValueError, LookupError):
        return ""
    anchors = dict(anchors or {})
    pending = anchors.pop("", [])
    leaves = set(_leaf_blocks(root))
    body = root.find("body")
    outer = [e for e in (body, *(body if body is not None else [])) if e is not None and isinstance(e.tag, str)]
    if any(set((e.get(EPUB_TYPE) or e.get("epub:type") or "").split()) & MATTER_TYPES for e in outer[:2]):
        # The document says it is front or back matter (its body or first section): so are entries into it.
        anchors = {key: [MATTER_MARK + t for t in titles] for key, titles in anchors.items()}
        pending = [MATTER_MARK + t for t in pending]
    blocks = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if anchors and (key := element.get("id")) in anchors:
            pending += anchors.pop(key)
        if element not in leaves:
            continue
        if element.tag == "hr":  # a scene break
            blocks.append(SCENE_BREAK)
            continue
        text = "".join(element.itertext()) if element.tag == "pre" else inline(element)
        # Runs of spaces are one by now, so the replaces are enough: no space at either end of a line.
        text = re.sub(r"[ \t]+", " ", text).replace(" \n", "\n").replace("\n ", "\n").replace("\ue000", "").strip()
        if text:
            blocks += [TOC_MARK + title for title in pending]
            pending = []
            level = int(element.tag[1]) if re.fullmatch(r"h[1-6]", element.tag) else 0
            blocks.append(plain_heading(text, level) if level else text)
    return "\n\n".join(blocks + [TOC_MARK + title for title in pending])


SMALL_CAPS_CLASSES = {"smallcaps", "small-caps", "smcap", "smcaps", "sc"}
SMALL_CAPS_STYLE = re.compile(r"font-variant(?:-caps)?\s*:\s*(?:all-)?small-caps", re.I)
UNDERLINE_STYLE = re.compile(r"text-decoration(?:-line)?\s*:[^;]*underline", re.I)


def span_marks(element) -> set[str]:
    """Small caps and underline an element sets by its tag, its inline style or a class named for them (e-books
    and word processors write them all three ways)."""
    style, classes = element.get("style") or "", set((element.get("class") or "").lower().split())
    found = set()
    if SMALL_CAPS_STYLE.search(style) or classes & SMALL_CAPS_CLASSES:
        found.add("smallcaps")
    if element.tag == "u" or UNDERLINE_STYLE.search(style) or "underline" in classes:
        found.add("underline")
    return found


def inline(element, italic: bool = False, bold: bool = False, marks: frozenset = frozenset()) -> str:
    """An element's text with <em>/<i> as *…* and <strong>/<b> as **…**, <s>/<del> as ~~…~~, small caps and
    underline as [… ]{.smallcaps} and [… ]{.underline}; <br> is a line break, and a line break in the source is a
    space, as a browser shows it. Formatting inside the same formatting adds nothing, so however deep the nesting,
    each character is copied a bounded number of times."""
    out = [_spaced(element.text)]
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if not tag or tag in ("style", "script"):  # comments, processing instructions, styles: not the text
            out.append(_spaced(child.tail))
            continue
        if tag == "br":  # a line break; the source's own line break after it is not a space too
            out.append("\n" + _spaced(child.tail).lstrip())
            continue
        child_italic, child_bold = tag in ("em", "i") and not italic, tag in ("strong", "b") and not bold
        new_marks = span_marks(child) - marks
        inner = inline(child, italic or child_italic, bold or child_bold, marks | new_marks)
        for mark in sorted(new_marks):
            inner = marked(inner, mark)
        if tag in ("s", "del", "strike") and inner.strip():
            inner = f"~~{inner.strip()}~~"
        out.append(styled(inner, child_italic, child_bold) if child_italic or child_bold else inner)
        out.append(_spaced(child.tail))
    return "".join(out)


def _spaced(text: str | None) -> str:
    return (text or "").replace("\r", " ").replace("\n", " ")


# --- splitting -------------------------------------------------------------------------------------------------------


class TooManyParts(Unreadable):
    """The split would make more chapters than any book has."""


def heading(line: str) -> str | None:
    """The title of a Markdown heading line ("## The Mill ##" -> "The Mill"), else None."""
    if not line.startswith("#"):
        return None
    rest = line.lstrip("#")
    if len(line) - len(rest) > 6 or not rest[:1].isspace():
        return None
    title = rest.strip().rstrip("#").rstrip()
    return title[:200] or None


def scene_break(line: str) -> bool:
    """***, * * *, ---, ### (three or more of one mark, with spaces between or not)."""
    marks = "".join(line.split())
    return len(marks) >= 3 and marks.count(marks[0]) == len(marks) and marks[0] in "*-#"


def heading_level(line: str) -> int:
    """How deep a Markdown heading line is (1 for "# ", 2 for "## "), 0 for any other line."""
    return len(line) - len(line.lstrip("#")) if heading(line) is not None else 0


TITLE_PAGE_WORDS = 100
SECTION_NUMBER_RE = re.compile(r"^(?:[ivxlcdm]{1,8}|\d{1,4})\.?$", re.IGNORECASE)
PART_TITLE_RE = re.compile(r"^(?:part|book|volume)\b", re.IGNORECASE)


def chapter_level(text: str) -> int:
    """The heading level that marks chapters: the shallowest used twice or more, unless its headings are parts:
    each straight away followed by a deeper heading, and either titled Part, Book or Volume or outnumbered half
    again by the deeper ones. The first heading (a title page) and front or back matter ("Contents") do not count.
    So a book title, a contents page or part titles do not make chapters, and a subtitle under each chapter
    heading does not either. Linear."""
    headings = []  # [level, followed at once by a deeper heading, title]
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        level = heading_level(stripped) if stripped.startswith("#") else 0
        if headings and headings[-1][1] is None:  # a first section ("### I") does not make a part
            headings[-1][1] = level > headings[-1][0] and not SECTION_NUMBER_RE.match(heading(stripped) or "")
        if level:
            headings.append([level, None, heading(stripped)])
    headings = [h for number, h in enumerate(headings) if number > 0 and not MATTER_RE.match(h[2])] or headings
    counts = {}
    for level, _, _ in headings:
        counts[level] = counts.get(level, 0) + 1
    levels = sorted(level for level, count in counts.items() if count >= 2) or sorted(counts) or [1]
    for index, level in enumerate(levels[:-1]):
        parts = [(followed, title) for at, followed, title in headings if at == level]
        named = all(PART_TITLE_RE.match(title) for _, title in parts)
        if all(followed for followed, _ in parts) and (named or counts[levels[index + 1]] >= 1.5 * len(parts)):
            continue
        return level
    return levels[-1]


def chosen_level(text: str, word: str) -> int:
    """The heading level chapters start at: the one the writer chose ("1" to "6"), else chapter_level's."""
    return int(word) if word.strip() in ("1", "2", "3", "4", "5", "6") else chapter_level(text)


def chapter_line(line: str) -> str | None:
    """The line as a chapter title if it reads like one ("Chapter 12", "PART THREE — The Sea", "Chapter Nine:
    Why Not?"), else None: it starts with a capital, and a title after the number without punctuation between
    starts with one too ("Book two was better" is prose)."""
    line = line.lstrip("# ")[:200]
    match = CHAPTER_LINE_RE.match(line)
    if not match or not line[:1].isupper():
        return None
    title, separator = match.group("title"), match.group("sep") or ""
    if title and not separator.strip() and title[:1].islower():
        return None
    return line


def boundary(how: str, word: str, level: int = 1):
    """A function from a stripped line to the chapter title it starts (or None); None when nothing splits.
    `level`: the chapter headings' (chapter_level); headings above it split too."""
    if how == "headings":
        return lambda line: heading(line) if 0 < heading_level(line) <= level else None
    if how == "chapter-lines":
        return chapter_line
    if how == "scene-breaks":
        counter = iter(range(2, 10**9))
        return lambda line: f"Part {next(counter)}" if scene_break(line) else None
    if how == "custom" and word.strip():
        prefix = word.strip().lower()
        return lambda line: line.lstrip("# ")[:200] if line.lstrip("# ")[:200].lower().startswith(prefix) else None
    return None


@dataclass
class Span:
    title: str
    start: int
    end: int
    note: str = field(default="")
    matter: bool = False  # front or back matter (a contents page, a licence): offered as "not a chapter"


def spans(text: str, how: str = "headings", word: str = "", limit: int = CHAPTER_MAX_CHARS) -> list[Span]:
    """Chapters at the chosen boundaries, as spans of the text. Text before the first boundary is an opening
    chapter of its own; a heading with no text after it joins the title of a deeper heading that follows (a part
    title right before a chapter title), else it is an empty chapter, so no heading is lost. A chapter longer
    than `limit` is split into parts (at paragraph breaks, else line breaks, else sentence ends), never cut.
    Raises TooManyParts past MAX_PARTS."""
    chapters_at = chosen_level(text, word) if how == "headings" else 0  # `word`: the level the writer chose
    marker = boundary(how, word, chapters_at)
    first = "Part 1" if how == "scene-breaks" else "Opening"
    found: list[Span] = []
    title, start, offset = None, 0, 0
    level, fresh = 0, False  # the chapter heading's level; no text under it yet
    # Before the first chapter heading, a part under a heading above the chapters' level is a title page.
    title_page, before_chapters = False, True
    for line in text.split("\n") if marker else ():
        end = offset + len(line)
        stripped = line.strip()
        name = marker(stripped)
        if name is not None:
            depth = heading_level(stripped) if how == "headings" else 0
            if not _blank(text, start, offset):
                found.append(Span(title or first, start, offset, matter=title_page))
                _check_count(len(found))
            elif title is not None and how != "scene-breaks" and (how != "headings" or level < depth):
                name = f"{title} — {name}"[:200]  # a part's title right before a chapter's: kept in its title
            elif title is not None and how == "headings":
                # A heading with nothing under it before one of its own level: an empty chapter keeps its title.
                found.append(Span(title, start, start, matter=title_page))
                _check_count(len(found))
            title, start, level, fresh = name, min(end + 1, len(text)), depth, True
            title_page = before_chapters and 0 < depth < chapters_at
            before_chapters = before_chapters and depth != chapters_at
        elif fresh and stripped:
            fresh = False
            sub = heading(stripped) if level and heading_level(stripped) > level else None
            # "Chapter 2" then "### The Mill": one title; "### I" is the chapter's first section and "## Chapter 1"
            # under "# Part One" its first chapter, not subtitles.
            if sub is not None and not SECTION_NUMBER_RE.match(sub) and not chapter_line(sub):
                title, start = f"{title}: {heading(stripped)}"[:200], min(end + 1, len(text))
        offset = end + 1
    if not _blank(text, start, len(text)) or not found or (title is not None and how == "headings"):
        found.append(Span(title or (first if found else "Chapter 1"), start, len(text), matter=title_page))
    if how == "headings" and len(found) >= 3 and text.lstrip().startswith("#"):
        opening = found[0]  # a book's first heading over a few lines, before its chapters: the title page
        if count_words(text[opening.start : opening.end]) < TITLE_PAGE_WORDS and not chapter_line(opening.title):
            opening.matter = True
    return _pieces(text, found, limit)


def _pieces(text: str, found: list[Span], limit: int) -> list[Span]:
    """Each span within the limit (split at paragraph breaks when longer), at most MAX_PARTS in all."""
    result = []
    for span in found:
        for piece in _within_limit(text, span, limit):
            piece.matter = span.matter
            result.append(piece)
        _check_count(len(result))
    return result


def _check_count(count: int):
    if count > MAX_PARTS:
        raise TooManyParts(
            f"Split this way, the manuscript would become more than {MAX_PARTS:,} chapters; choose another way."
        )


def _blank(text: str, start: int, end: int) -> bool:
    return not text[start:end].strip()


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    segment = text[start:end]
    return start + len(segment) - len(segment.lstrip()), start + len(segment.rstrip())


SENTENCE_ENDS = (". ", "! ", "? ", "… ", '." ', "”", ".\t")


def _cut(text: str, start: int, end: int, limit: int) -> int:
    """Where to end a piece that starts at `start`: the last paragraph break, else line break, else sentence end,
    else space in the second half of the next `limit` characters (or exactly `limit` on, for text with none)."""
    low, high = start + limit // 2, min(start + limit, end)
    for finder in (
        lambda: text.rfind("\n\n", low, high),
        lambda: text.rfind("\n", low, high),
        lambda: max(text.rfind(mark, low, high - len(mark) + 1) + len(mark) - 1 for mark in SENTENCE_ENDS),
        lambda: text.rfind(" ", low, high),
    ):
        at = finder()
        if at >= low:
            return at + 1
    return high


def _within_limit(text: str, span: Span, limit: int) -> list[Span]:
    start, end = _stripped(text, span.start, span.end)
    if end - start <= limit:
        return [Span(span.title, start, end, span.note)]
    pieces = []
    while end - start > limit:
        cut = _cut(text, start, end, limit)
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    note = f"Longer than a chapter may be ({limit:,} characters): split into {len(pieces)} at paragraph breaks."
    return [
        Span(f"{span.title[:180]} ({number} of {len(pieces)})", a, b, note)
        for number, (a, b) in enumerate(pieces, start=1)
    ]


def parts(text: str, found: list[Span]) -> list[Part]:
    return [Part(span.title, text[span.start : span.end].strip(), span.note) for span in found]


def split(text: str, how: str = "headings", word: str = "") -> list[Part]:
    return parts(text, spans(text, how, word))


OPENING_CHARS = 200  # of each chapter, shown in the preview


MATTER_NOTE = "Front or back matter, not a chapter: left out unless you keep it."


def is_matter(title: str) -> bool:
    """Contents pages, copyright and licence pages and the like, by their title (or the last part of it)."""
    return bool(MATTER_RE.match(title.strip())) or bool(MATTER_RE.match(title.rsplit(" — ", 1)[-1].strip()))


def stored_split(text: str, how: str, word: str = "") -> dict:
    """A split as stored with the manuscript: for each chapter its title, span, note, words, opening and whether
    it is front or back matter; or the reason it cannot be used."""
    if how == "contents":
        return {"refused": "This file has no table of contents of its own; choose another way to split it."}
    level = chosen_level(text, word) if how == "headings" else 0
    try:
        found = spans(text, how, str(level) if level else word)
    except TooManyParts as exc:
        return {"refused": str(exc)}
    stored = stored_spans(text, found)
    if level:  # the level chapters start at, and the levels there are to choose from
        levels = sorted({heading_level(line.strip()) for line in text.split("\n") if line.startswith("#")} - {0})
        stored.update(level=level, levels=levels)
    return stored


def stored_spans(text: str, found: list[Span]) -> dict:
    rows = []
    for span in found:
        content = text[span.start : span.end]
        matter = span.matter or is_matter(span.title)
        note = span.note or (MATTER_NOTE if matter else "")
        rows.append([span.title, span.start, span.end, note, count_words(content), content[:OPENING_CHARS], matter])
    return {"spans": rows}


def from_stored(text: str, stored: dict, leave_out=()) -> list[Part]:
    """The chapters of a stored split, without the ones (by position) the writer left out."""
    return [
        Part(span[0], text[span[1] : span[2]].strip(), span[3])
        for index, span in enumerate(stored.get("spans", []))
        if index not in leave_out
    ]


# --- the e-book's own table of contents ------------------------------------------------------------------------


def table_of_contents(text: str) -> tuple[str, list[tuple[int, str]]]:
    """The text without the reader's table-of-contents marks, and where each entry starts in it (offset, title;
    a title starting with MATTER_MARK is front or back matter). A mark is a line of its own between blank lines;
    it goes with the blank line after it. Linear."""
    if TOC_MARK not in text:
        return text, []
    out, entries, size, skip_blank = [], [], 0, False
    for line in text.split("\n"):
        if line.startswith(TOC_MARK):
            entries.append((size, line[len(TOC_MARK) :].strip()[:210] or "Untitled"))
            skip_blank = True
            continue
        if skip_blank and not line.strip():
            skip_blank = False
            continue
        skip_blank = False
        out.append(line)
        size += len(line) + 1
    cleaned = "\n".join(out).strip("\n")
    lead = len("\n".join(out)) - len("\n".join(out).lstrip("\n"))
    return cleaned, [(max(0, min(offset - lead, len(cleaned))), title) for offset, title in entries]


def contents_spans(text: str, entries: list[tuple[int, str]], limit: int = CHAPTER_MAX_CHARS) -> list[Span]:
    """Chapters from the table of contents: each entry runs to the next one. Text before the first entry (a title
    page, a contents page) is front matter; entries at the same place are one chapter (the deepest title)."""
    entries = sorted(dict(entries).items())  # by offset; for one place, the last (deepest) title given wins
    found = []
    if entries and not _blank(text, 0, entries[0][0]):
        found.append(Span("Front matter", 0, entries[0][0], matter=True))
    held = ""
    for index, (start, title) in enumerate(entries):
        end = entries[index + 1][0] if index + 1 < len(entries) else len(text)
        matter = title.startswith(MATTER_MARK)
        title = title.removeprefix(MATTER_MARK)[:200] or "Untitled"
        if held:  # a part's page with nothing but its title: kept in the next chapter's title
            title, held = f"{held} — {title}"[:200], ""
        if _blank(text, start, end):
            continue
        begins = _after_title(text, start, end, title)
        if _blank(text, begins, end):
            if not matter and index + 1 < len(entries):
                held = title
                continue
            begins = start  # the last entry, or matter: its heading is all it has
        found.append(Span(title, begins, end, matter=matter))
    return _pieces(text, found, limit)


TITLE_LINE_WORDS = 15  # a line this short made only of the title's words is the title set as a paragraph


def _after_title(text: str, start: int, end: int, title: str) -> int:
    """Where a chapter's text begins once the lines that only repeat its table-of-contents title are skipped:
    headings ("## II" and "### The Storm" under "II. The Storm") and the short paragraph some books set the title
    in ("A Letter with a Postscript" under "I: A Letter with a Postscript"). A line with any other word stays."""
    words = {w.lower() for w in WORD_RE.findall(title)}
    at = start
    while at < end:
        line_end = text.find("\n", at, end)
        line_end = end if line_end < 0 else line_end
        line = text[at:line_end].strip()
        own = heading(line) if heading(line) is not None else line
        found = [w.lower() for w in WORD_RE.findall(own)]
        if line and (not set(found) <= words or (heading(line) is None and len(found) > TITLE_LINE_WORDS)):
            return at
        at = line_end + 1
    return end  # nothing but the title
