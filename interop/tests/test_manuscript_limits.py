"""Hostile manuscripts cost a bounded reading: patterns that backtracked over whitespace are string methods now,
an e-book's spine is read once per document and its characters counted as they come, a Word document is read as a
stream, and a text longer than a chapter is split, never cut. Each case was seconds to minutes before."""

import time

import pytest

from core import sandbox, uploads
from interop import manuscript
from tests import hostile

BOUNDS = manuscript.Bounds(max_bytes=25 * 1024 * 1024, max_unzipped=100 * 1024 * 1024, max_chars=10_000_000)


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def test_runs_of_spaces_in_headings_and_emphasis_read_in_linear_time():
    (text, _), seconds = timed(manuscript.read, "spaces.md", hostile.markdown_heading_spaces(40, 3000), BOUNDS)
    assert seconds < 0.5 and [part.title for part in manuscript.split(text)] == ["a b"] * 40  # no heading lost
    (text, _), seconds = timed(manuscript.read, "italic.docx", hostile.docx_italic_spaces(40_000), BOUNDS)
    assert seconds < 0.5 and text == "*a" + " " * 40_000 + "b*"
    (text, _), seconds = timed(manuscript.read, "newlines.epub", hostile.epub_emphasis_newlines(40_000), BOUNDS)
    assert seconds < 0.5 and text == "*a b*"  # line breaks in the source are spaces, as a browser shows them
    (text, _), seconds = timed(manuscript.read, "deep.epub", hostile.epub_deep_emphasis(100, 200_000), BOUNDS)
    assert seconds < 0.5 and text == "***" + "x" * 200_000 + "***"


def test_an_ebook_that_lists_one_chapter_a_thousand_times_reads_it_once():
    (text, _), seconds = timed(manuscript.read, "spine.epub", hostile.epub_repeated_spine(1000, 2000), BOUNDS)
    assert len(text) < 2_100_000 and seconds < 3


def test_characters_are_counted_while_reading_and_reading_stops_at_the_limit():
    small = manuscript.Bounds(BOUNDS.max_bytes, BOUNDS.max_unzipped, max_chars=500_000)
    started = time.perf_counter()
    with pytest.raises(manuscript.ManuscriptError, match="more than 500,000 characters"):
        manuscript.read("spine.epub", hostile.epub({"a": "<p>" + "word " * 200_000 + "</p>",
                                                    "b": "<p>more</p>"}, ["a", "b", "a"]), small)  # fmt: skip
    assert time.perf_counter() - started < 2


def test_a_word_document_is_read_as_a_stream_within_the_sandboxs_memory(tmp_path, settings):
    path = tmp_path / "expanding.docx"
    path.write_bytes(hostile.docx_expanding(20))
    options = {"filename": "expanding.docx", "max_bytes": BOUNDS.max_bytes, "max_unzipped": BOUNDS.max_unzipped,
               "max_chars": BOUNDS.max_chars}  # fmt: skip
    limits = sandbox.Limits(memory_bytes=256 * 1024 * 1024, cpu_seconds=30, output_bytes=64 * 1024 * 1024)
    with sandbox.run("interop.manuscript:read_upload", path, limits, **options) as result:
        assert result.value["format"] == "docx"
        assert len(result.file("text.md").read_text()) > 900_000
    settings.UPLOAD_CPU_SECONDS = 1
    with (
        pytest.raises(sandbox.OverLimit, match="more than 1 seconds"),
        sandbox.run("interop.manuscript:read_upload", path, uploads.limits(), **options),
    ):
        pass


def test_a_text_longer_than_a_chapter_is_split_at_line_breaks_and_nothing_is_cut():
    text, _ = manuscript.read("long.txt", hostile.text_over_the_limit(1_200_000), BOUNDS)
    parts, seconds = timed(manuscript.split, text)
    count = len(parts)
    assert seconds < 2 and count == len(text) // manuscript.CHAPTER_MAX_CHARS + 1
    assert all(len(p.content) <= manuscript.CHAPTER_MAX_CHARS for p in parts)
    assert sum(p.words for p in parts) == 1_200_000
    # Every line is there: only the line breaks between parts are gone.
    assert "\n".join(p.content for p in parts) == text
    assert parts[0].title == f"Chapter 1 (1 of {count})" and f"split into {count} at paragraph breaks" in parts[0].note


def test_a_paragraph_longer_than_a_chapter_is_split_at_sentence_ends_then_spaces():
    sentence = "The tide came in over the stones. "
    text = sentence * 20_000  # 680,000 characters, one paragraph
    parts = manuscript.split(text.strip())
    assert len(parts) == 2 and all(p.content.endswith(".") for p in parts)
    assert " ".join(p.content for p in parts) == text.strip()
    unbroken = "x" * 1_200_000
    pieces = manuscript.split(unbroken)
    assert [len(p.content) for p in pieces] == [500_000, 500_000, 200_000]


def test_a_split_into_more_chapters_than_any_book_has_is_refused_with_the_reason():
    text = "\n".join(f"Scene {n}\nThe tide." for n in range(3000))
    stored = manuscript.stored_split(text, "custom", "scene")
    assert "more than 2,000 chapters" in stored["refused"]
