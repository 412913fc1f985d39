"""Interop fidelity: manuscripts come in as their authors wrote them and go out the same.

    .venv/bin/python bench/interop.py

For each file of the corpus (bench/corpus/: two Standard Ebooks as their makers built them; and a Word
document, a Markdown manuscript with HTML in it and a hard-wrapped text file made here, each with the structure an
import most easily gets wrong), through the reader that runs in the sandbox and the split the preview offers first:
  - chapters found (not counting parts offered as front or back matter) against the source's own count: the
    e-books' body-matter documents (by their epub:type, read here independently of the reader), the others by
    construction; target: equal;
  - words kept: words in the chapters and their titles against words in the source's chapters; target >= 99.9 %;
  - formatting kept: italic, bold, struck, small caps and underlined spans in the chapters against those in the
    source;
  - round trip: the chapters made into a story, exported as an EPUB and as a Word document by the app, and each
    imported again give the same titles and text; target: identical.
The stories it makes belong to a throwaway account, removed at the end.
"""

import io
import re
import time
import zipfile
from pathlib import Path

from common import ROOT, setup_django, write_result

CORPUS = ROOT / "bench" / "corpus"
ITALIC = re.compile(r"(?<![*\w])\*(?=[^*\s])[^*\n]*?(?<=[^*\s])\*(?![*\w])")  # not a "* * *" scene break
BOLD = re.compile(r"\*\*(?=[^*\s])[^*\n]*?(?<=[^*\s])\*\*")
STRUCK = re.compile(r"~~[^~\n]+?~~")
SMALL_CAPS = re.compile(r"\]\{\.smallcaps\}")
UNDERLINE = re.compile(r"\]\{\.underline\}")
NO_SPANS = {"italic": 0, "bold": 0, "struck": 0, "smallcaps": 0, "underline": 0}


def words(text: str) -> int:
    return len(re.findall(r"\w+", UNDERLINE.sub("]", SMALL_CAPS.sub("]", text))))  # the span's markup is no word


def spans_in(text: str) -> dict:
    found = (ITALIC, BOLD, STRUCK, SMALL_CAPS, UNDERLINE)
    return {kind: len(pattern.findall(text)) for kind, pattern in zip(NO_SPANS, found, strict=True)}


def epub_source(data: bytes) -> dict:
    """What the e-book holds, read straight from its XHTML: its body-matter documents (chapters), their words
    (without the titles set in their headings, which become chapter titles) and their emphasis."""
    from lxml import etree

    book = zipfile.ZipFile(io.BytesIO(data))
    chapters, count, spans = 0, 0, dict(NO_SPANS)
    for name in sorted(n for n in book.namelist() if n.endswith(".xhtml")):
        root = etree.fromstring(book.read(name))
        body = root.find("{http://www.w3.org/1999/xhtml}body")
        types = (body.get("{http://www.idpf.org/2007/ops}type") or "").split() if body is not None else []
        if "bodymatter" not in types:
            continue
        chapters += 1
        count += words(" ".join(body.itertext()))
        for element in body.iter():
            tag = etree.QName(element).localname if isinstance(element.tag, str) else ""
            kind = {"em": "italic", "i": "italic", "strong": "bold", "b": "bold", "s": "struck", "del": "struck",
                    "u": "underline"}  # fmt: skip
            classes = (element.get("class") or "").split()
            look = "smallcaps" if {"smallcaps", "small-caps", "sc"} & set(classes) else kind.get(tag)
            if look and "".join(element.itertext()).strip():
                spans[look] += 1
    return {"chapters": chapters, "words": count, "spans": spans}


def made_cases() -> dict:
    """Manuscripts made here, with what they hold: (file name, bytes, chapters, words, spans)."""
    import docx

    document = docx.Document()
    document.add_paragraph("The Keeper", style="Title")
    document.add_paragraph("by A. Writer")
    from docx.enum.style import WD_STYLE_TYPE

    if "toc 1" not in [style.name for style in document.styles]:  # as Word names a contents field's entries
        document.styles.add_style("toc 1", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("Contents", style="TOC Heading")
    for line in ("Part One", "Chapter 1: The Lamp", "Chapter 2", "Part Two", "Chapter 3"):
        document.add_paragraph(line, style="toc 1")
    body = []  # the chapters' text as the source has it (headings too), for its words
    for part, chapters in (("Part One", [(1, "The Lamp"), (2, None)]), ("Part Two", [(3, None)])):
        document.add_heading(part, level=1)
        for number, subtitle in chapters:
            document.add_heading(f"Chapter {number}", level=2)
            if subtitle:
                document.add_heading(subtitle, level=3)
            paragraph = document.add_paragraph(f"Chapter {number} begins, and the keeper ")
            paragraph.add_run("climbs").italic = True
            paragraph.add_run(" the ")
            paragraph.add_run("stairs").bold = True
            paragraph.add_run(" of the old light once more, as ")
            paragraph.add_run("Mr. Hale").font.small_caps = True
            paragraph.add_run(" had ")
            paragraph.add_run("always").underline = True
            paragraph.add_run(" said.")
            document.add_heading("Later", level=3)
            document.add_paragraph("The sea was calm by morning.")
            body += [f"Chapter {number}", subtitle or "", paragraph.text, "Later The sea was calm by morning."]
        body.append(part)
    out = io.BytesIO()
    document.save(out)
    docx_words = words(" ".join(body))
    markdown = (
        "<!-- draft 3 -->\n<style>.scene { margin: 2em }</style>\n\n# The Keeper\n\nby A. Writer\n\n"
        + "\n\n".join(
            f'## Chapter {n}\n\n<div class="chapter">\n<section>\n\nThe *lamp* was **dark** and the ~~old~~ oil '
            f"was gone, {n} times.\nShe waited for [Mr. Hale]{{.smallcaps}}.\n\n</section>\n</div>\n\n* * *\n\n"
            "Morning <u>came</u>."
            for n in range(1, 4)
        )
    )
    md_words = 3 * words(
        "Chapter 1 The lamp was dark and the old oil was gone, 1 times. She waited for Mr. Hale. Morning came."
    )
    paragraph = " ".join(f"The keeper climbed the stairs for the {n}th time and counted the ships." for n in range(8))
    wrapped = "\n".join(re.findall(r".{1,68}(?:\s|$)", paragraph)).replace(" \n", "\n").strip()
    titles = ["CHAPTER I. THE LAMP", "CHAPTER II. WHY NOT?", "CHAPTER III. THE STORM!"]
    text = "\n\n\n".join(f"{title}\n\n{wrapped}\n\n{wrapped}" for title in titles)
    txt_words = words(" ".join(titles)) + 3 * 2 * words(paragraph)
    each = dict.fromkeys(NO_SPANS, 3)
    return {
        "word-parts-subtitles-and-contents-field.docx": (out.getvalue(), 3, docx_words, {**each, "struck": 0}),
        "markdown-with-html.md": (markdown.encode(), 3, md_words, each),
        "hard-wrapped-gutenberg-style.txt": (text.encode(), 3, txt_words, NO_SPANS),
    }  # fmt: skip


def imported(name: str, data: bytes) -> tuple[list, list, str]:
    """The split the preview offers first, as (title, text, matter) rows, through the sandbox's reader."""
    from interop import manuscript
    from interop.models import ManuscriptImport

    answer = manuscript.read_upload(data, Path(TMP), filename=name, max_bytes=50 << 20, max_unzipped=200 << 20,
                                    max_chars=20_000_000)  # fmt: skip
    text = (Path(TMP) / "text.md").read_text(encoding="utf-8")
    how = ManuscriptImport(splits=answer["splits"]).default_split
    rows = [(r[0], text[r[1] : r[2]].strip(), r[6]) for r in answer["splits"][how]["spans"]]
    return rows, [r for r in rows if not r[2]], how


def round_trip(user, chapters: list) -> dict:
    """The chapters as a story, exported as an EPUB and as a Word document by the app, and each imported again:
    the same titles and text?"""
    from interop.export import story_docx, story_epub
    from stories.models import Story

    story = Story.objects.create(owner=user, title="Round trip")
    for title, content, _ in chapters:
        story.append_chapter(title[:200], content)
    same = {}
    for kind, write in (("epub", story_epub), ("docx", story_docx)):
        out = io.BytesIO()
        write(story, story.chapters.order_by("order"), "A. Writer", out)
        _, again, _ = imported(f"again.{kind}", out.getvalue())
        same[kind] = [(t, c) for t, c, _ in again] == [(t[:200], c) for t, c, _ in chapters]
    return same


TMP = ""


def main():
    global TMP
    import tempfile

    setup_django()
    from core.models import User

    TMP = tempfile.mkdtemp(prefix="bench-interop-")
    email = f"interop-{int(time.time())}@bench.invalid"
    user = User.objects.create_user(email=email, password=None)
    cases = {p.name: (p.read_bytes(), None) for p in sorted(CORPUS.glob("*.epub"))}
    cases.update({name: (data, (count, total, spans)) for name, (data, count, total, spans) in made_cases().items()})
    rows = {}
    try:
        for name, (data, known) in cases.items():
            started = time.perf_counter()
            all_parts, chapters, how = imported(name, data)
            seconds = time.perf_counter() - started
            source = epub_source(data) if known is None else dict(zip(("chapters", "words", "spans"), known,
                                                                        strict=True))  # fmt: skip
            kept_words = sum(words(t) + words(c) for t, c, _ in chapters)
            # The e-books' sources count every word of a chapter's document, its title heading included.
            kept_spans = spans_in("\n".join(c for _, c, _ in chapters))
            rows[name] = {
                "split": how,
                "chapters_found": len(chapters), "chapters_in_source": source["chapters"],
                "left_out_as_matter": [t for t, _, matter in all_parts if matter],
                "words_kept": kept_words, "words_in_source": source["words"],
                "words_kept_percent": round(100 * kept_words / source["words"], 2),
                "spans_kept": kept_spans, "spans_in_source": source["spans"],
                "round_trip_identical": round_trip(user, chapters),  # through an EPUB, through a Word document
                "read_and_split_seconds": round(seconds, 2),
            }  # fmt: skip
            row = rows[name]
            print(f"{name}: {row['chapters_found']} chapters (source {row['chapters_in_source']}), "
                  f"words {row['words_kept_percent']} %, spans {kept_spans} (source {source['spans']}), "
                  f"round trip {row['round_trip_identical']}, "
                  f"left out {row['left_out_as_matter']}")  # fmt: skip
    finally:
        User.objects.filter(email=email).delete()
    targets = {
        "chapters_equal_source": all(r["chapters_found"] == r["chapters_in_source"] for r in rows.values()),
        "words_kept_at_least_99_9_percent": all(r["words_kept_percent"] >= 99.9 for r in rows.values()),
        "round_trip_identical": all(all(r["round_trip_identical"].values()) for r in rows.values()),
    }
    print(f"targets: {targets}")
    print(f"written to {write_result('interop', {'files': rows, 'targets': targets})}")


if __name__ == "__main__":
    main()
