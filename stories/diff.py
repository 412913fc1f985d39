"""Word-level differences between two versions of a chapter, for the revision history.

A word diff of two whole novels must not take the server down, so the work is bounded: the common beginning and
end are set aside first (an autosave usually changes one place), the rest is compared paragraph by paragraph,
and only changed paragraphs small enough for WORD_DIFF_BUDGET are compared word by word. Anything larger is shown
as one removal and one insertion, which is what a writer sees in any case when a passage was rewritten whole.
"""

import difflib
import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import mark_safe

# A word with the whitespace after it, so a changed run of words becomes one <ins> or <del>.
TOKEN_RE = re.compile(r"\S+\s*|\s+")
# A paragraph with the line breaks after it.
PARAGRAPH_RE = re.compile(r"[^\n]*\n*")
# SequenceMatcher compares two token lists in up to len(a) * len(b) steps; this caps that product for one changed
# paragraph block, and the sum over all blocks of one diff (measured: a full budget takes about 0.3 s).
WORD_DIFF_BUDGET = 250_000
TOTAL_WORD_DIFF_BUDGET = 2_000_000


@dataclass
class Change:
    op: str  # "equal", "delete", "insert"
    text: str


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _common_suffix(a: list[str], b: list[str], limit: int) -> int:
    i = 0
    while i < limit and a[-1 - i] == b[-1 - i]:
        i += 1
    return i


def _trimmed(a: list[str], b: list[str]):
    """(head, a_middle, b_middle, tail): the shared beginning and end set aside in linear time."""
    head = _common_prefix(a, b)
    tail = _common_suffix(a, b, min(len(a), len(b)) - head)
    return a[:head], a[head : len(a) - tail], b[head : len(b) - tail], a[len(a) - tail :]


class _Budget:
    def __init__(self, total: int):
        self.left = total

    def take(self, cost: int) -> bool:
        if cost > WORD_DIFF_BUDGET or cost > self.left:
            return False
        self.left -= cost
        return True


def _word_changes(old: str, new: str, budget: _Budget) -> list[Change]:
    head, a, b, tail = _trimmed(TOKEN_RE.findall(old), TOKEN_RE.findall(new))
    changes = [Change("equal", "".join(head))]
    if budget.take(len(a) * len(b)):
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if op == "equal":
                changes.append(Change("equal", "".join(a[i1:i2])))
                continue
            if op in ("delete", "replace"):
                changes.append(Change("delete", "".join(a[i1:i2])))
            if op in ("insert", "replace"):
                changes.append(Change("insert", "".join(b[j1:j2])))
    else:
        changes += [Change("delete", "".join(a)), Change("insert", "".join(b))]
    changes.append(Change("equal", "".join(tail)))
    return changes


def changes(old: str, new: str) -> list[Change]:
    """The edit from `old` to `new` as equal / delete / insert runs of text, in bounded time."""
    head, a, b, tail = _trimmed(PARAGRAPH_RE.findall(old or ""), PARAGRAPH_RE.findall(new or ""))
    result = [Change("equal", "".join(head))]
    budget = _Budget(TOTAL_WORD_DIFF_BUDGET)
    # Paragraphs are nearly all distinct, so matching them is fast; autojunk keeps repeated ones ("***") cheap.
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes():
        if op == "equal":
            result.append(Change("equal", "".join(a[i1:i2])))
        elif op == "replace" and i2 - i1 == j2 - j1:
            # As many paragraphs in as out (a name changed throughout, say): compare them pair by pair.
            for old_paragraph, new_paragraph in zip(a[i1:i2], b[j1:j2], strict=True):
                result += _word_changes(old_paragraph, new_paragraph, budget)
        else:
            result += _word_changes("".join(a[i1:i2]), "".join(b[j1:j2]), budget)
    result.append(Change("equal", "".join(tail)))
    return [change for change in result if change.text]


def word_diff(old: str, new: str) -> tuple[str, dict]:
    """HTML of `new` with words removed since `old` in <del> and words added in <ins> (all text escaped), and
    how many words were added and removed."""
    tags = {"equal": "{}", "delete": "<del>{}</del>", "insert": "<ins>{}</ins>"}
    parts, stats = [], {"added": 0, "removed": 0}
    for change in changes(old, new):
        parts.append(tags[change.op].format(escape(change.text)))
        if change.op != "equal":
            stats["added" if change.op == "insert" else "removed"] += len(change.text.split())
    return mark_safe("".join(parts)), stats
