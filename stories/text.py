"""Counting and bounding a writer's text. Plain Python (no Django): the readers of uploaded files use it in a
limited child process too."""

import re

WORD_RE = re.compile(r"\w+(?:['’-]\w+)*")
# About a whole novel in one chapter; past this the editor asks the writer to split it.
CHAPTER_MAX_CHARS = 500_000


def count_words(text: str) -> int:
    """Words as a writer counts them: apostrophes and hyphens join, punctuation does not count."""
    return len(WORD_RE.findall(SPAN_END_RE.sub("]", text or "")))


# Small caps and underline have no Markdown of their own: the app writes them as Pandoc's bracketed spans,
# "[Mr. Smith]{.smallcaps}" and "[this]{.underline}", beside *italic*, **bold** and ~~struck~~, so a Markdown
# export reads the same in Pandoc and the one representation carries through the editor, EPUB and Word.
SPAN_MARKS = ("smallcaps", "underline")
SPAN_END_RE = re.compile(r"\]\{\.(?:smallcaps|underline)\}")
# Bounded inside the brackets, and a span stops at the next bracket: every character is looked at a bounded
# number of times, whatever the text.
SPAN_RE = re.compile(r"\[([^\[\]\n]{1,2000})\]\{\.(smallcaps|underline)\}")


def wrapped(text: str, opening: str, closing: str) -> str:
    """`text` between formatting markers, keeping surrounding spaces outside them (Markdown needs the markers
    against the words); text of nothing but spaces is left as it is."""
    core = text.strip()
    if not core:
        return text
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    return f"{lead}{opening}{core}{closing}{trail}"


def marked(text: str, mark: str) -> str:
    """`text` in a small caps or underline span."""
    return wrapped(text, "[", f"]{{.{mark}}}")


def without_spans(text: str) -> str:
    """The text with small caps and underline spans reduced to their words (titles, plain exports)."""
    return SPAN_RE.sub(r"\1", text)


def span_markup(text: str) -> list[tuple[int, int]]:
    """Where the span markers are ("[" and "]{.smallcaps}"), as (start, end) offsets: not prose to check."""
    found = []
    for match in SPAN_RE.finditer(text):
        found += [(match.start(), match.start() + 1), (match.end(1), match.end())]
    return found


def spans_blanked(text: str) -> str:
    """The span markers as spaces, the same length, so a checker's offsets still point into the writer's text."""
    return SPAN_END_RE.sub(lambda m: " " * len(m.group()), text)


def markdown_parser(**options):
    """The CommonMark parser the app reads and writes its Markdown with: strikethrough and bracketed spans on
    (only a class, only on a span), raw HTML as the options say."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.attrs import attrs_plugin

    parser = MarkdownIt("commonmark", {"html": False, **options}).enable("strikethrough")
    return parser.use(attrs_plugin, spans=True, after=("span_close",), allowed=["class"])
