"""Every reader of a writer's file and every pass over a writer's text holds its contract on any input, in bounded
time: manuscripts (text, Markdown, Word, EPUB) read and split without losing a word, revision diffs that rebuild
both versions, lorebook, card and backup readers that either read a file or refuse it with a reason (never
another error). Inputs are drawn by Hypothesis, short patterns repeated into tens of thousands of characters
among them; each example must finish within its deadline."""

import html
import json
import unicodedata
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from core.sandbox import Unreadable
from interop import backup_reader, cards, lorebooks, manuscript
from stories.diff import changes
from tests import hostile

BOUNDS = manuscript.Bounds(max_bytes=25 * 1024 * 1024, max_unzipped=100 * 1024 * 1024, max_chars=10_000_000)
MARKS = st.sampled_from(list(" \n\t#*-_.\r") + ["# ", "## ", "Chapter ", "Part One", "***", "* * *", "---", "\n\n"])
PIECE = st.lists(st.one_of(MARKS, st.text(max_size=6)), max_size=12).map("".join)
TEXT = st.one_of(
    st.text(max_size=2000),
    st.lists(PIECE, max_size=60).map("".join),
    st.tuples(PIECE, st.integers(min_value=1, max_value=20_000)).map(lambda t: (t[0] * t[1])[:100_000]),
)
# No shrinking: a failing example of 100,000 characters is reported as drawn, not minutes later.
BUDGET = settings(max_examples=50, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow],
                  phases=[Phase.explicit, Phase.reuse, Phase.generate])  # fmt: skip
WORDS = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)


def words(text: str) -> list[str]:
    return text.replace("*", " ").replace("_", " ").replace("#", " ").split()


def letters(text: str) -> Counter:
    """Every character but spaces, the marks a heading or emphasis adds, and control characters (a heading of
    nothing but one is no chapter): what a split must not lose."""
    return Counter(c for c in text if not c.isspace() and c not in "#*_" and unicodedata.category(c) != "Cc")


@BUDGET
@given(TEXT, st.sampled_from(list(manuscript.SPLITS)), st.sampled_from(["", "chapter", "#", "a"]))
def test_a_text_manuscript_splits_without_losing_a_word(text, how, word):
    try:
        read, _ = manuscript.read("book.md", text.encode("utf-8", "surrogatepass"), BOUNDS)
    except (manuscript.ManuscriptError, UnicodeEncodeError):
        return
    try:
        found = manuscript.spans(read, how, word, limit=5000)
    except manuscript.TooManyParts:
        return
    kept = letters("\n".join(read[s.start : s.end] for s in found))
    # Headings at the chapters' level and above, a part's title before a chapter's, a subtitle after it: what leaves
    # the text goes into the chapters' titles.
    titles = letters("\n".join(s.title for s in found))
    assert letters(read) - kept <= titles  # only what became chapter titles leaves the text
    assert all(s.end - s.start <= 5000 for s in found)


@BUDGET
@given(st.lists(st.tuples(WORDS, st.booleans(), st.booleans()), min_size=1, max_size=40))
def test_a_word_document_gives_back_every_run_with_its_emphasis(runs):
    body = "".join(
        f"<w:p><w:r><w:rPr>{'<w:i/>' if italic else ''}{'<w:b/>' if bold else ''}</w:rPr>"
        f"<w:t>{html.escape(text)}</w:t></w:r></w:p>"
        for text, italic, bold in runs
    )
    text, kind = manuscript.read("book.docx", hostile.docx(body), BOUNDS)
    assert kind == "docx" and words(text) == [w for text, _, _ in runs for w in words(text)]


@BUDGET
@given(st.lists(WORDS, min_size=1, max_size=30), st.integers(min_value=1, max_value=5))
def test_an_ebook_gives_back_every_paragraph_once_however_often_its_spine_lists_it(paragraphs, times):
    markup = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    text, kind = manuscript.read("book.epub", hostile.epub({"c": markup}, ["c"] * times), BOUNDS)
    assert kind == "epub" and text.split("\n\n") == [p.strip() for p in paragraphs if p.strip()]


@BUDGET
@given(TEXT, TEXT)
def test_a_diff_rebuilds_both_versions(old, new):
    parts = changes(old, new)
    assert "".join(c.text for c in parts if c.op != "insert") == old
    assert "".join(c.text for c in parts if c.op != "delete") == new


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
ENTRY = st.fixed_dictionaries({}, optional={"key": JSON, "keys": JSON, "content": JSON, "comment": JSON,
                                            "name": JSON, "text": JSON, "displayName": JSON})  # fmt: skip
BOOK = st.one_of(
    JSON,
    st.fixed_dictionaries({"entries": st.dictionaries(st.text(max_size=4), ENTRY, max_size=5)}),
    st.fixed_dictionaries({"entries": st.lists(ENTRY, max_size=5), "lorebookVersion": st.integers()}),
)


@BUDGET
@given(BOOK)
def test_a_lorebook_is_read_or_refused_with_a_reason(book):
    try:
        kind, items = lorebooks.parse(json.dumps(book).encode(), 10 * 1024 * 1024)
    except lorebooks.LorebookError:
        return
    assert kind in ("sillytavern", "novelai", "character_book") and items
    assert all(isinstance(i["name"], str) and isinstance(i["description"], str) for i in items)


CARD = st.one_of(
    JSON,
    st.fixed_dictionaries({"spec": st.sampled_from(["chara_card_v2", "chara_card_v3", "other"]), "data": JSON}),
    st.fixed_dictionaries({"name": JSON, "description": JSON, "personality": JSON, "mes_example": JSON}),
)


@BUDGET
@given(st.one_of(CARD.map(lambda c: json.dumps(c).encode()), st.binary(max_size=2000)))
def test_a_card_is_read_or_refused_with_a_reason(data):
    try:
        card = cards.read(data, 20 * 1024 * 1024)
    except cards.CardError:
        return
    assert card.fields["name"] and all(isinstance(v, str) for v in card.fields.values())


SCENE = {"kind": "scene", "status": "accepted", "source": "uploaded", "file": "images/0.png"}
VALID = {"format": "storyassistant-story-backup", "version": 2, "story": {"title": "T"},
         "chapters": [{"title": "One", "file": "chapters/0.jsonl"}], "cast": [{"name": "Mara"}],
         "pictures": [SCENE]}  # fmt: skip


@BUDGET
@given(
    changed=st.dictionaries(st.sampled_from(["story", "chapters", "cast", "relationships", "world", "facts",
                                             "ignored_findings", "pictures", "version"]), JSON, max_size=3),
    lines=st.lists(JSON, max_size=4),
    picture=st.binary(max_size=300),
)  # fmt: skip
def test_a_backup_is_read_or_refused_with_a_reason(changed, lines, picture, tmp_path_factory):
    document = {**VALID, **changed}
    chapter = "\n".join(json.dumps(line) for line in [{"content": "x"}, *lines])
    data = hostile._zip({"backup.json": json.dumps(document), "chapters/0.jsonl": chapter, "images/0.png": picture})
    folder = tmp_path_factory.mktemp("read")
    try:
        read = backup_reader.read_upload(data, folder, max_unzipped=10**8, max_json_bytes=10**7,
                                         max_picture_bytes=10**7, max_pixels=10**7, max_megapixels=100,
                                         max_stories=10)  # fmt: skip
    except backup_reader.BackupError:
        return
    (story,) = read["stories"]
    skeleton = json.loads((folder / story["skeleton"]).read_text())
    assert len(story["chapters"]) == len(skeleton["chapters"])
    for picture_doc in skeleton["pictures"]:
        assert (folder / picture_doc["raw"]).read_bytes() == picture


def test_every_reader_refuses_with_the_sandboxs_kind_of_error():
    """The sandbox reports a reader's refusal to the writer only when it is an Unreadable."""
    for error in (manuscript.ManuscriptError, cards.CardError, lorebooks.LorebookError, backup_reader.BackupError):
        assert issubclass(error, Unreadable)
