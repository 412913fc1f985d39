"""Word-level differences between two versions of a chapter, for the revision history."""

import difflib
import re

from django.utils.html import escape
from django.utils.safestring import mark_safe

# A word with the whitespace after it, so a changed run of words becomes one <ins> or <del>.
TOKEN_RE = re.compile(r"\S+\s*|\s+")


def word_diff_html(old: str, new: str) -> str:
    """HTML of `new` with words removed since `old` in <del> and words added in <ins>; all text escaped."""
    a, b = TOKEN_RE.findall(old or ""), TOKEN_RE.findall(new or "")
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(escape("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            parts.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            parts.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
    return mark_safe("".join(parts))


def diff_stats(old: str, new: str) -> dict:
    a, b = (old or "").split(), (new or "").split()
    added = removed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            removed += i2 - i1
        if op in ("insert", "replace"):
            added += j2 - j1
    return {"added": added, "removed": removed}
