"""Word diffs of revisions: right on small edits, bounded on whole novels."""

import random
import re
import time

import pytest
from django.urls import reverse

from stories.diff import changes, word_diff
from stories.models import CHAPTER_MAX_CHARS, ChapterRevision
from tests.factories import make_chapter, make_story

WORDS = ["the", "a", "Mara", "harbour", "walked", "she", "and", "of", "to", "light", "sea", "boat", "said"]


def prose(paragraphs: int, seed: int) -> str:
    rng = random.Random(seed)
    return "\n\n".join(
        " ".join(" ".join(rng.choice(WORDS) for _ in range(12)) + "." for _ in range(6)) for _ in range(paragraphs)
    )


def rebuilt(parts, keep):
    return "".join(c.text for c in parts if c.op in keep)


def test_a_small_edit_is_marked_word_by_word_and_escaped():
    html, stats = word_diff("The <ship> docked at dawn.\n\nGulls.", "The <ship> left at dusk.\n\nGulls.")
    assert html == (
        "The &lt;ship&gt; <del>docked </del><ins>left </ins>at <del>dawn.\n\n</del><ins>dusk.\n\n</ins>Gulls."
    )
    assert stats == {"added": 2, "removed": 2}


@pytest.mark.parametrize(
    "old, new",
    [
        (prose(40, 1), prose(40, 1).replace("Mara", "Maria")),  # a name changed throughout
        (prose(40, 1), prose(40, 2)),  # rewritten whole
        (prose(40, 1), prose(20, 1)),  # the second half cut
        ("", prose(5, 3)),
        (prose(5, 3), ""),
    ],
)
def test_every_diff_rebuilds_both_versions(old, new):
    parts = changes(old, new)
    assert rebuilt(parts, {"equal", "delete"}) == old
    assert rebuilt(parts, {"equal", "insert"}) == new


def test_renaming_throughout_stays_word_by_word():
    old = prose(40, 1)
    parts = changes(old, old.replace("Mara", "Maria"))
    deleted = [c.text for c in parts if c.op == "delete"]
    assert deleted and all(set(re.findall(r"\w+", text)) == {"Mara"} for text in deleted)


@pytest.mark.parametrize("case", ["rewritten", "run-on rewritten", "one word inserted", "against nothing"])
def test_diffs_of_the_largest_chapters_take_bounded_time(case):
    big = prose(1300, 4)[:CHAPTER_MAX_CHARS]
    other = {
        "rewritten": prose(1300, 5)[:CHAPTER_MAX_CHARS],
        "run-on rewritten": prose(1300, 5)[:CHAPTER_MAX_CHARS].replace("\n", " "),
        "one word inserted": big[:250_000] + " lantern" + big[250_000:],
        "against nothing": "",
    }[case]
    if case == "run-on rewritten":
        big = big.replace("\n", " ")
    started = time.process_time()
    html, stats = word_diff(big, other)
    assert time.process_time() - started < 3.0  # before: 112 s of CPU for a 60,000-character chapter
    assert stats["added"] + stats["removed"] > 0


@pytest.mark.django_db
def test_the_revision_page_of_a_whole_novel_answers_promptly(writer_client, user):
    chapter = make_chapter(make_story(user), content=prose(1300, 6)[:CHAPTER_MAX_CHARS])
    old = ChapterRevision.objects.create(chapter=chapter, title="t", content=prose(1300, 7)[:CHAPTER_MAX_CHARS],
                                         version=1)  # fmt: skip
    started = time.monotonic()
    response = writer_client.get(reverse("revision_detail", args=[chapter.story_id, chapter.pk, old.pk]))
    assert response.status_code == 200 and time.monotonic() - started < 5
    assert "<ins>" in response.content.decode() and "<del>" in response.content.decode()


def test_every_pass_is_bounded_even_for_lines_drawn_from_a_few_hundred():
    """A paragraph list of 120,000 lines from 150 distinct ones made the paragraph matcher quadratic or worse."""
    rng = random.Random(5)
    lines = [str(n) for n in range(150)]
    old, new = ("\n".join(rng.choice(lines) for _ in range(120_000)) for _ in range(2))
    started = time.perf_counter()
    parts = changes(old, new)
    assert time.perf_counter() - started < 2
    assert rebuilt(parts, {"equal", "delete"}) == old and rebuilt(parts, {"equal", "insert"}) == new
