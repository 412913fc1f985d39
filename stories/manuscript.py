"""Reading a manuscript (DOCX, EPUB, Markdown or plain text) into Markdown-like text, and splitting it into
chapters.

Everything is bounded before it is read: the upload's size, and for the zip-based formats (DOCX, EPUB) the number
of entries and their total size once uncompressed, so a zip bomb is refused rather than expanded. XML is parsed
with entities and network access off. Italics and bold are kept as Markdown (*italic*, **bold**); headings
become "# " lines, which is where chapters split by default. Work is linear in the text.
"""

import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass

import docx
from django.conf import settings
from lxml import etree
from lxml import html as lxml_html

from storyassistant import archives

from .models import CHAPTER_MAX_CHARS, count_words

FORMATS = {"docx": "Word document", "epub": "EPUB e-book", "md": "Markdown", "txt": "Plain text"}
SPLITS = {
    "headings": "At headings (# lines, Word headings, e-book sections)",
    "chapter-lines": "At lines that start with Chapter, Part, Prologue or Epilogue",
    "scene-breaks": "At scene breaks (***, * * *, ###)",
    "custom": "At lines that start with a word I choose",
    "none": "Do not split: one chapter",
}
HEADING_RE = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
CHAPTER_LINE_RE = re.compile(
    r"^(?:chapter|part|book|prologue|epilogue|interlude)\b[\w .:'’,\-–—]{0,80}$", re.IGNORECASE
)
SCENE_BREAK_RE = re.compile(r"^\s*(?:\*\s*){3,}$|^\s*#{3,}\s*$|^\s*(?:-\s*){3,}$")
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
MAX_ZIP_ENTRIES = 2000
BLOCK_TAGS = {"p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"}


class ManuscriptError(ValueError):
    """The file cannot be imported; the message says why, for the writer. Nothing was saved."""


@dataclass
class Part:
    title: str
    content: str

    @property
    def words(self) -> int:
        return count_words(self.content)


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


def read(filename: str, data: bytes) -> tuple[str, str]:
    """The manuscript as text with "# " headings, and its format."""
    if len(data) > settings.MANUSCRIPT_MAX_BYTES:
        raise ManuscriptError(f"The file is larger than {settings.MANUSCRIPT_MAX_BYTES // (1024 * 1024)} MB.")
    if data[:4] == b"PK\x03\x04":  # from the content first: the name only tells text formats apart
        archive = open_zip(data)
        kind = zip_format(archive)
        text = read_docx(data, archive) if kind == "docx" else read_epub(archive)
    else:
        kind, text = text_format(filename), decode(data)
    text = re.sub(r"\n{3,}", "\n\n", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise ManuscriptError("The file has no text in it.")
    if len(text) > settings.MANUSCRIPT_MAX_CHARS:
        raise ManuscriptError(f"The manuscript has more than {settings.MANUSCRIPT_MAX_CHARS:,} characters.")
    return text, kind


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding).replace("\x00", "")
        except UnicodeDecodeError:
            continue
    raise ManuscriptError("The text is in an encoding this app cannot read; save it as UTF-8.")


def open_zip(data: bytes) -> zipfile.ZipFile:
    """The archive, once its declared sizes show it is not a zip bomb (checked again while reading)."""
    try:
        return archives.open_zip(data, max_entries=MAX_ZIP_ENTRIES, max_unzipped=settings.MANUSCRIPT_MAX_UNZIPPED)
    except archives.Damaged as exc:
        raise ManuscriptError("The file looks like a Word document or an e-book but is damaged.") from exc
    except archives.TooLarge as exc:
        raise ManuscriptError("The file expands to far more than a manuscript could; it was refused.") from exc


def zip_read(archive: zipfile.ZipFile, name: str) -> bytes:
    """One entry, read no further than the limit whatever its header claims."""
    limit = settings.MANUSCRIPT_MAX_UNZIPPED
    try:
        with archive.open(name) as entry:
            data = entry.read(limit + 1)
    except KeyError as exc:
        raise ManuscriptError(f"The file is damaged: {name} is missing.") from exc
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise ManuscriptError("The file is damaged: part of it could not be read.") from exc
    if len(data) > limit:
        raise ManuscriptError("The file expands to far more than a manuscript could; it was refused.")
    return data


# --- DOCX ----------------------------------------------------------------------------------------------------------


def read_docx(data: bytes, archive: zipfile.ZipFile) -> str:
    zip_read(archive, "word/document.xml")  # the bound, before python-docx reads it whole
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds on a broken package
        raise ManuscriptError("The Word document is damaged: it could not be read.") from exc
    blocks = []
    for paragraph in document.paragraphs:
        text = "".join(styled(run.text, run.italic, run.bold) for run in paragraph.runs).strip()
        if not text:
            continue
        style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
        if style.startswith("heading") or style == "title":
            blocks.append("# " + re.sub(r"[*_]+", "", text))
        else:
            blocks.append(text)
    return "\n\n".join(blocks)


def styled(text: str, italic, bold) -> str:
    """A run's text with Markdown emphasis, keeping surrounding spaces outside the markers."""
    if not text.strip() or not (italic or bold):
        return text
    marker = "***" if italic and bold else "**" if bold else "*"
    lead, core, trail = re.match(r"^(\s*)(.*?)(\s*)$", text, re.S).groups()
    return f"{lead}{marker}{core}{marker}{trail}"


# --- EPUB ----------------------------------------------------------------------------------------------------------


def xml(data: bytes):
    try:
        return etree.fromstring(data, SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise ManuscriptError("The e-book is damaged: its table of contents could not be read.") from exc


def read_epub(archive: zipfile.ZipFile) -> str:
    """The spine's documents in reading order: headings and paragraphs, with emphasis."""
    container = xml(zip_read(archive, "META-INF/container.xml"))
    rootfile = container.find(".//{*}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise ManuscriptError("The e-book is damaged: it does not say where its contents are.")
    opf_path = rootfile.get("full-path")
    package = xml(zip_read(archive, opf_path))
    base = posixpath.dirname(opf_path)
    manifest = {item.get("id"): item for item in package.iterfind(".//{*}manifest/{*}item")}
    parts = []
    for itemref in package.iterfind(".//{*}spine/{*}itemref"):
        item = manifest.get(itemref.get("idref"))
        if item is None or "html" not in (item.get("media-type") or "") or "nav" in (item.get("properties") or ""):
            continue
        path = posixpath.normpath(posixpath.join(base, item.get("href", "")))
        parts.append(xhtml_text(zip_read(archive, path)))
    return "\n\n".join(p for p in parts if p)


def xhtml_text(data: bytes) -> str:
    try:
        root = lxml_html.fromstring(data)
    except (etree.ParserError, ValueError):
        return ""
    blocks = []
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag not in BLOCK_TAGS or any(child.tag in BLOCK_TAGS for child in element.iterdescendants()):
            continue
        text = inline(element).strip()
        if text:
            blocks.append(("# " + re.sub(r"[*_]+", "", text)) if tag.startswith("h") and tag != "h" else text)
    return "\n\n".join(blocks)


def inline(element) -> str:
    """An element's text with <em>/<i> as *…* and <strong>/<b> as **…**; <br> is a line break."""
    out = [element.text or ""]
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "br":
            out.append("\n")
        else:
            inner = inline(child)
            out.append(styled(inner, tag in ("em", "i"), tag in ("strong", "b")))
        out.append(child.tail or "")
    return re.sub(r"[ \t]+", " ", "".join(out))


# --- splitting -------------------------------------------------------------------------------------------------------


def split(text: str, how: str = "headings", word: str = "") -> list[Part]:
    """Chapters at the chosen boundaries; text before the first boundary is an opening chapter of its own, and a
    boundary with no text after it (a part title right before a chapter title) adds nothing. A chapter over the
    size limit is cut into parts at paragraph breaks."""
    marker = boundary(how, word)
    first = "Part 1" if how == "scene-breaks" else "Opening"
    parts, title, lines = [], None, []
    for line in text.split("\n"):
        found = marker(line.strip()) if marker else None
        if found is None:
            lines.append(line)
            continue
        if "\n".join(lines).strip():
            parts.append(Part(title or first, "\n".join(lines).strip()))
        title, lines = found, []
    if "\n".join(lines).strip() or not parts:
        parts.append(Part(title or (first if parts else "Chapter 1"), "\n".join(lines).strip()))
    return [piece for part in parts for piece in within_limit(part)]


def boundary(how: str, word: str):
    """A function from a line to the chapter title it starts (or None); None when nothing splits."""
    if how == "headings":
        return lambda line: m.group(1)[:200] if (m := HEADING_RE.match(line)) else None
    if how == "chapter-lines":
        return lambda line: line.lstrip("# ")[:200] if CHAPTER_LINE_RE.match(line.lstrip("# ")) else None
    if how == "scene-breaks":
        counter = iter(range(2, 10**6))
        return lambda line: f"Part {next(counter)}" if SCENE_BREAK_RE.match(line) else None
    if how == "custom" and word.strip():
        prefix = word.strip().lower()
        return lambda line: line.lstrip("# ")[:200] if line.lstrip("# ").lower().startswith(prefix) else None
    return None


def within_limit(part: Part) -> list[Part]:
    if len(part.content) <= CHAPTER_MAX_CHARS:
        return [part]
    pieces, current = [], []
    size = 0
    for paragraph in part.content.split("\n\n"):
        if current and size + len(paragraph) > CHAPTER_MAX_CHARS * 0.9:
            pieces.append("\n\n".join(current))
            current, size = [], 0
        current.append(paragraph[:CHAPTER_MAX_CHARS])
        size += len(paragraph) + 2
    pieces.append("\n\n".join(current))
    return [Part(f"{part.title} ({i} of {len(pieces)})", piece) for i, piece in enumerate(pieces, start=1)]
