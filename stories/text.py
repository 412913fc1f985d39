"""Counting and bounding a writer's text. Plain Python (no Django): the readers of uploaded files use it in a
limited child process too."""

import re

WORD_RE = re.compile(r"\w+(?:['’-]\w+)*")
# About a whole novel in one chapter; past this the editor asks the writer to split it.
CHAPTER_MAX_CHARS = 500_000


def count_words(text: str) -> int:
    """Words as a writer counts them: apostrophes and hyphens join, punctuation does not count."""
    return len(WORD_RE.findall(text or ""))
