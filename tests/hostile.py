"""Hostile files and texts, made on the spot: each is small to send and was, at some point, costly to read (a
pattern that backtracks, a size checked too late, a loop over what the file claims). The tests and
bench/hostile.py send them through the app; none of them is a real document."""

import base64
import io
import json
import struct
import zipfile
import zlib


def _zip(entries: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def markdown_heading_spaces(lines: int = 40, spaces: int = 3000) -> bytes:
    """Heading lines with a long run of spaces inside: a heading pattern with `\\s+(.+?)\\s*#*\\s*$` tries every
    split of the run."""
    return ("\n".join(f"# a{' ' * spaces}b" for _ in range(lines))).encode()


DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx(body: str) -> bytes:
    """A minimal Word document with `body` (WordprocessingML paragraphs) as its text."""
    document = f'<?xml version="1.0" encoding="UTF-8"?><w:document {W_NS}><w:body>{body}</w:body></w:document>'
    return _zip({"[Content_Types].xml": DOCX_TYPES, "word/document.xml": document})


def docx_italic_spaces(spaces: int = 40_000) -> bytes:
    """One italic run of spaces between two letters: emphasis split with `^(\\s*)(.*?)(\\s*)$` is quadratic."""
    run = f'<w:r><w:rPr><w:i/></w:rPr><w:t xml:space="preserve">a{" " * spaces}b</w:t></w:r>'
    return docx(f"<w:p>{run}</w:p>")


def docx_expanding(megabytes: int = 95) -> bytes:
    """A small file whose document.xml expands to nearly the unzipped limit in tiny runs: a reader that builds
    the whole tree (python-docx) needs gigabytes."""
    run = "<w:r><w:t>a</w:t></w:r>"
    paragraph = "<w:p>" + run * 2000 + "</w:p>"
    count = megabytes * 1024 * 1024 // len(paragraph)
    body = paragraph * count
    return docx(body)


EPUB_CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>'
    "</container>"
)


def epub(documents: dict, spine: list[str]) -> bytes:
    """An EPUB with the given XHTML documents (id -> markup) read in `spine` order."""
    manifest = "".join(f'<item id="{key}" href="{key}.xhtml" media-type="application/xhtml+xml"/>' for key in documents)
    refs = "".join(f'<itemref idref="{key}"/>' for key in spine)
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        f"<manifest>{manifest}</manifest><spine>{refs}</spine></package>"
    )
    entries = {"mimetype": "application/epub+zip", "META-INF/container.xml": EPUB_CONTAINER, "OEBPS/content.opf": opf}
    for key, markup in documents.items():
        entries[f"OEBPS/{key}.xhtml"] = f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{markup}</body></html>'
    return _zip(entries)


def epub_emphasis_newlines(newlines: int = 40_000) -> bytes:
    return epub({"c1": f"<p><em>a{chr(10) * newlines}b</em></p>"}, ["c1"])


def epub_repeated_spine(times: int = 1000, kilobytes: int = 2000) -> bytes:
    """One chapter of `kilobytes` listed `times` times in the spine: 2 KB on the wire, gigabytes once joined."""
    text = "<p>" + "word " * (kilobytes * 1024 // 5) + "</p>"
    return epub({"c1": text}, ["c1"] * times)


def epub_deep_emphasis(depth: int = 250, chars: int = 200_000) -> bytes:
    """Emphasis nested hundreds deep around a long text: copying the text at every level is quadratic."""
    return epub({"c1": "<p>" + "<em><strong>" * depth + "x" * chars + "</strong></em>" * depth + "</p>"}, ["c1"])


def text_over_the_limit(words: int = 1_200_000) -> bytes:
    """A plain text of more words than a chapter holds, one paragraph per line (single newlines)."""
    line = "The keeper climbed the stairs and counted the ships in the harbour far below her."  # 15 words
    return "\n".join([line] * (words // 15)).encode()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def apng_card(frames: int = 300, size: int = 6000) -> bytes:
    """An animated PNG character card: every frame a full grey canvas (one compressed frame, repeated), the
    card's text chunk after them all, where reading it through Pillow decodes every frame first."""
    card = base64.b64encode(json.dumps({"name": "Frames", "description": "x"}).encode())
    pixels = zlib.compress((b"\0" + b"\x80" * size) * size, 9)
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale

    def control(sequence: int) -> bytes:
        return _chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, size, size, 0, 0, 1, 100, 0, 0))

    parts = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"acTL", struct.pack(">II", frames, 0)),
             control(0), _chunk(b"IDAT", pixels)]  # fmt: skip
    sequence = 1
    for _ in range(frames - 1):
        parts += [control(sequence), _chunk(b"fdAT", struct.pack(">I", sequence + 1) + pixels)]
        sequence += 2
    parts += [_chunk(b"tEXt", b"chara\0" + card), _chunk(b"IEND", b"")]
    return b"".join(parts)


def backup_json_bomb(megabytes: int = 900) -> bytes:
    """A story backup whose backup.json is mostly one huge string: 100 KB on the wire, gigabytes once loaded."""
    chunk = b" " * (1024 * 1024)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("backup.json", "w", force_zip64=True) as entry,
    ):
        entry.write(b'{"format": "storyassistant-story-backup", "version": 1, "story": {"title": "')
        for _ in range(megabytes):
            entry.write(chunk)
        entry.write(b'"}}')
    return out.getvalue()


def account_backup_repeating(inner: bytes, times: int = 100_000) -> bytes:
    """An account backup that lists one inner story backup `times` times."""
    account = {"format": "storyassistant-account-backup", "version": 1, "stories": ["stories/0.backup.zip"] * times,
               "characters": []}  # fmt: skip
    return _zip({"stories/0.backup.zip": inner, "account.json": json.dumps(account)}, zipfile.ZIP_DEFLATED)


def curly_quotes(count: int = 500_000) -> str:
    """Opening quotation marks that never close: a quote pattern rescans to the end from every one."""
    return "Old Bram said nothing. " + "“" * count


def many_names(chars: int = 620_000) -> str:
    """Hundreds of thousands of distinct capitalised names, each used a few times."""
    words, index, size = [], 0, 0
    while size < chars:
        name = "Qa" + "".join(chr(97 + (index // 26**k) % 26) for k in range(4))
        words += [f"and {name} went", f"then {name} came", f"with {name} there."]
        size += sum(len(w) + 1 for w in words[-3:])
        index += 1
    return " ".join(words)[:chars]
