"""Reading a manuscript (DOCX, EPUB, Markdown or plain text) into Markdown-like text, and splitting it into
chapters.

A manuscript is hostile until read: `read_upload` runs in a limited child process (core.sandbox), so
this module is plain Python with no Django. Everything is bounded while it is read, not after: the number of
entries and the bytes a DOCX or EPUB expands to (a reader stops at the limit whatever the zip's headers claim),
the characters read so far (counted as they come, so a book that lists one chapter a thousand times stops at the
limit), and XML is parsed with entities and network access off, a Word document as a stream. Italics and bold are
kept as Markdown (*italic*, **bold**); headings become "# " lines, which is where chapters split by default.
Every pass is linear in the text: string methods, no pattern that can backtrack over a run of spaces.
"""

import codecs
import posixpath
import re
import zipfile
from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

from core.sandbox import Unreadable
from stories.text import CHAPTER_MAX_CHARS, count_words

from . import archives

FORMATS = {"docx": "Word document", "epub": "EPUB e-book", "md": "Markdown", "txt": "Plain text"}
SPLITS = {
    "headings": "At headings (# lines, Word headings, e-book sections)",
    "chapter-lines": "At lines that start with Chapter, Part, Prologue or Epilogue",
    "scene-breaks": "At scene breaks (***, * * *, ###)",
    "custom": "At lines that start with a word I choose",
    "none": "Do not split: one chapter",
}
# The splits that need nothing from the writer, worked out once when the manuscript is read.
FIXED_SPLITS = ("headings", "chapter-lines", "scene-breaks", "none")
CHAPTER_LINE_RE = re.compile(
    r"^(?:chapter|part|book|prologue|epilogue|interlude)\b[\w .:'’,\-–—]{0,80}$", re.IGNORECASE
)
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
MAX_ZIP_ENTRIES = 2000
MAX_STYLES_BYTES = 5 * 1024 * 1024
# More chapters than any book has: a split past this is refused with the reason, not shown as 100,000 parts.
MAX_PARTS = 2000
BLOCK_TAGS = {"p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"}
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
    (folder / "text.md").write_text(text, encoding="utf-8")
    return {"format": kind, "splits": {how: stored_split(text, how) for how in FIXED_SPLITS}}


def zip_format(archive: zipfile.ZipFile) -> str:
    """A zip is a Word document or an e-book by what it holds, whatever its name."""
    names = set(archive.namelist())
    if "word/document.xml" in names:
        return "docx"
    if "META-INF/container.xml" in names:
        return "epub"
    raise ManuscriptError("This zip file is neither a Word document (.docx) nor an EPUB e-book.")


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
        kind, text = text_format(filename), decode(data)
        counter.add(len(text))
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


# --- emphasis ------------------------------------------------------------------------------------------------------


def styled(text: str, italic, bold) -> str:
    """A run's text with Markdown emphasis, keeping surrounding spaces outside the markers."""
    core = text.strip()
    if not core or not (italic or bold):
        return text
    marker = "***" if italic and bold else "**" if bold else "*"
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{marker}{core}{marker}{trail}"


def plain_heading(text: str) -> str:
    return "# " + text.replace("*", "").replace("_", "").strip()


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


def paragraph_text(paragraph) -> str:
    """The paragraph's runs (in hyperlinks, insertions and content controls too; deleted text is not in <w:t>),
    neighbouring runs of the same emphasis joined before it is marked."""
    segments: list[list] = []  # [text, italic, bold]
    for run in paragraph.iter(W + "r"):
        text = _run_text(run)
        if not text:
            continue
        properties = run.find(W + "rPr")
        italic = properties is not None and _on(properties.find(W + "i"))
        bold = properties is not None and _on(properties.find(W + "b"))
        if segments and segments[-1][1:] == [italic, bold]:
            segments[-1][0] += text
        else:
            segments.append([text, italic, bold])
    return "".join(styled(text, italic, bold) for text, italic, bold in segments).strip()


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
            blocks.append(plain_heading(text) if style.startswith("heading") or style == "title" else text)
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
    parts, seen = [], set()
    for itemref in package.iterfind(".//{*}spine/{*}itemref"):
        item = manifest.get(itemref.get("idref"))
        if item is None or "html" not in (item.get("media-type") or "") or "nav" in (item.get("properties") or ""):
            continue
        path = posixpath.normpath(posixpath.join(base, item.get("href", "")))
        if path in seen:  # a spine that lists a document twice reads it once
            continue
        seen.add(path)
        text = xhtml_text(reader.read(path))
        if text:
            counter.add(len(text) + 2)
            parts.append(text)
    return "\n\n".join(parts)


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


def xhtml_text(data: bytes) -> str:
    try:
        root = lxml_html.fromstring(data, parser=lxml_html.HTMLParser(encoding=_declared_encoding(data)))
    except (etree.ParserError, ValueError, LookupError):
        return ""
    blocks = []
    for element in _leaf_blocks(root):
        text = re.sub(r"[ \t]+", " ", inline(element)).strip()
        if text:
            heading = element.tag.startswith("h") and element.tag != "h"
            blocks.append(plain_heading(text) if heading else text)
    return "\n\n".join(blocks)


def inline(element, italic: bool = False, bold: bool = False) -> str:
    """An element's text with <em>/<i> as *…* and <strong>/<b> as **…**; <br> is a line break. Emphasis inside
    the same emphasis adds nothing, so however deep the nesting, each character is copied a bounded number of
    times."""
    out = [element.text or ""]
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "br":
            out.append("\n")
        else:
            child_italic, child_bold = tag in ("em", "i") and not italic, tag in ("strong", "b") and not bold
            inner = inline(child, italic or child_italic, bold or child_bold)
            out.append(styled(inner, child_italic, child_bold) if child_italic or child_bold else inner)
        out.append(child.tail or "")
    return "".join(out)


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


def boundary(how: str, word: str):
    """A function from a stripped line to the chapter title it starts (or None); None when nothing splits."""
    if how == "headings":
        return heading
    if how == "chapter-lines":
        return lambda line: line.lstrip("# ")[:200] if CHAPTER_LINE_RE.match(line.lstrip("# ")[:200]) else None
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


def spans(text: str, how: str = "headings", word: str = "", limit: int = CHAPTER_MAX_CHARS) -> list[Span]:
    """Chapters at the chosen boundaries, as spans of the text. Text before the first boundary is an opening
    chapter of its own, and a boundary with no text after it (a part title right before a chapter title) adds
    nothing. A chapter longer than `limit` is split into parts (at paragraph breaks, else line breaks, else
    sentence ends), never cut. Raises TooManyParts past MAX_PARTS."""
    marker = boundary(how, word)
    first = "Part 1" if how == "scene-breaks" else "Opening"
    found: list[Span] = []
    title, start, offset = None, 0, 0
    for line in text.split("\n") if marker else ():
        end = offset + len(line)
        name = marker(line.strip())
        if name is not None:
            if not _blank(text, start, offset):
                found.append(Span(title or first, start, offset))
                _check_count(len(found))
            title, start = name, min(end + 1, len(text))
        offset = end + 1
    if not _blank(text, start, len(text)) or not found:
        found.append(Span(title or (first if found else "Chapter 1"), start, len(text)))
    result = []
    for span in found:
        result += _within_limit(text, span, limit)
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


def stored_split(text: str, how: str, word: str = "") -> dict:
    """A split as stored with the manuscript: for each chapter its title, span, note, words and opening; or the
    reason it cannot be used."""
    try:
        found = spans(text, how, word)
    except TooManyParts as exc:
        return {"refused": str(exc)}
    rows = []
    for span in found:
        content = text[span.start : span.end]
        rows.append([span.title, span.start, span.end, span.note, count_words(content), content[:OPENING_CHARS]])
    return {"spans": rows}


def from_stored(text: str, stored: dict) -> list[Part]:
    return [Part(span[0], text[span[1] : span[2]].strip(), span[3]) for span in stored.get("spans", [])]
