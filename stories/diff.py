"""Word-level differences between two versions of a chapter, for the revision history.

A word diff of two whole novels must not take the server down, so every pass is bounded: the common beginning and
end are set aside first (an autosave usually changes one place), the rest is compared paragraph by paragraph, and
changed paragraphs word by word. Both comparisons are Myers' shortest edit script, which stops once it has taken
its budget of steps (difflib's matcher has no such bound: repetitive text made it cubic). Anything over the
budget is shown as one removal and one insertion, which is what a writer sees in any case when a passage was
rewritten whole.
"""

import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import mark_safe

# A word with the whitespace after it, so a changed run of words becomes one <ins> or <del>.
TOKEN_RE = re.compile(r"\S+\s*|\s+")
# A paragraph with the line breaks after it.
PARAGRAPH_RE = re.compile(r"[^\n]*\n*")
# Steps of the edit-script search: for one changed paragraph block, for all the word passes of one diff, and for the
# paragraph pass (measured: a full word budget takes about 0.2 s, the whole of one diff well under a second).
WORD_DIFF_BUDGET = 250_000
TOTAL_WORD_DIFF_BUDGET = 1_000_000
PARAGRAPH_DIFF_BUDGET = 250_000
PAIR_COST = 100  # what comparing one more pair of paragraphs costs beyond its steps (tokenising, setting up)


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

    def spend(self, steps: int):
        self.left -= steps


def edit_script(a: list, b: list, budget: int):
    """Opcodes ("equal", "delete", "insert", "replace", i1, i2, j1, j2) turning `a` into `b` with the fewest
    insertions and deletions (Myers, 1986), and the steps taken; None for the opcodes once `budget` steps are
    spent. Time is bounded by the budget whatever the input."""
    n, m = len(a), len(b)
    frontier, trace, steps = {1: 0}, [], 0
    for d in range(n + m + 1):
        trace.append(dict(frontier))
        for k in range(-d, d + 1, 2):
            down = k == -d or (k != d and frontier.get(k - 1, -1) < frontier.get(k + 1, -1))
            x = frontier.get(k + 1, 0) if down else frontier.get(k - 1, 0) + 1
            y = x - k
            start = x
            while x < n and y < m and a[x] == b[y]:
                x, y = x + 1, y + 1
            steps += 1 + x - start
            frontier[k] = x
            if x >= n and y >= m:
                return _opcodes(_path(trace, k, n, m)), steps
            if steps > budget:
                return None, steps
    return _opcodes([]), steps


def _path(trace: list[dict], k: int, x: int, y: int) -> list[tuple[str, int, int]]:
    """The edits (op, index in a, index in b) from the end back to the start, then reversed."""
    edits = []
    for d in range(len(trace) - 1, 0, -1):
        frontier = trace[d]
        down = k == -d or (k != d and frontier.get(k - 1, -1) < frontier.get(k + 1, -1))
        previous_k = k + 1 if down else k - 1
        previous_x = frontier.get(previous_k, 0)
        previous_y = previous_x - previous_k
        while x > previous_x + (0 if down else 1) and y > previous_y + (1 if down else 0):
            x, y = x - 1, y - 1
            edits.append(("equal", x, y))
        if down:
            edits.append(("insert", previous_x, previous_y))
        else:
            edits.append(("delete", previous_x, previous_y))
        x, y, k = previous_x, previous_y, previous_k
    while x > 0 and y > 0:
        x, y = x - 1, y - 1
        edits.append(("equal", x, y))
    return edits[::-1]


def _opcodes(edits) -> list[tuple]:
    """Runs of single edits as opcodes, a deletion next to an insertion as one replacement."""
    codes = []
    for op, i, j in edits:
        di, dj = (1, 1) if op == "equal" else (1, 0) if op == "delete" else (0, 1)
        if codes and codes[-1][0] == op and codes[-1][2] == i and codes[-1][4] == j:
            last = codes[-1]
            codes[-1] = (op, last[1], i + di, last[3], j + dj)
        else:
            codes.append((op, i, i + di, j, j + dj))
    merged = []
    for code in codes:
        if merged and {merged[-1][0], code[0]} <= {"delete", "insert", "replace"} and merged[-1][0] != "equal":
            last = merged[-1]
            merged[-1] = ("replace", last[1], code[2], last[3], code[4])
        else:
            merged.append(code)
    return merged


def _word_changes(old: str, new: str, budget: _Budget) -> list[Change]:
    head, a, b, tail = _trimmed(TOKEN_RE.findall(old), TOKEN_RE.findall(new))
    changes = [Change("equal", "".join(head))]
    codes = None
    if a and b and budget.left > 0:
        codes, steps = edit_script(a, b, min(WORD_DIFF_BUDGET, budget.left))
        budget.spend(steps)
    for op, i1, i2, j1, j2 in codes or [("replace", 0, len(a), 0, len(b))]:
        if op == "equal":
            changes.append(Change("equal", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            changes.append(Change("delete", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            changes.append(Change("insert", "".join(b[j1:j2])))
    changes.append(Change("equal", "".join(tail)))
    return changes


def changes(old: str, new: str) -> list[Change]:
    """The edit from `old` to `new` as equal / delete / insert runs of text, in bounded time."""
    head, a, b, tail = _trimmed(PARAGRAPH_RE.findall(old or ""), PARAGRAPH_RE.findall(new or ""))
    result = [Change("equal", "".join(head))]
    budget = _Budget(TOTAL_WORD_DIFF_BUDGET)
    codes, _ = edit_script(a, b, PARAGRAPH_DIFF_BUDGET) if a and b else (None, 0)
    if codes is None:  # rewritten whole, or too different to say how in the time allowed
        codes, budget.left = [("replace", 0, len(a), 0, len(b))], 0
    for op, i1, i2, j1, j2 in codes:
        if op == "equal":
            result.append(Change("equal", "".join(a[i1:i2])))
        elif op == "replace" and i2 - i1 == j2 - j1 and budget.left > 0:
            # As many paragraphs in as out (a name changed throughout, say): compare them pair by pair, while
            # the budget lasts (each pair costs its steps and a little more), then the rest as a whole.
            for offset in range(i2 - i1):
                if budget.left <= 0:
                    result += _word_changes("".join(a[i1 + offset : i2]), "".join(b[j1 + offset : j2]), budget)
                    break
                budget.spend(PAIR_COST)
                result += _word_changes(a[i1 + offset], b[j1 + offset], budget)
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
