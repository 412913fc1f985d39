"""Anchors that keep a comment or suggestion on its passage while the text around it changes.

An anchor is the quoted passage, a little context either side and where it was. Finding it again is linear in
the chapter's length: occurrences of the quote (at most MAX_OCCURRENCES, those near the old place first) are
scored by how much of the context still matches, ties going to the one nearest the old place. If the quote is
gone but its context is still there, the passage was rewritten ("changed"); if neither is found, it is gone.
"""

from dataclasses import dataclass

CONTEXT_CHARS = 64
QUOTE_MAX_CHARS = 2000
MAX_OCCURRENCES = 1000
NEAR_CHARS = 5000  # how far from its old place an anchor is looked for first

HERE, CHANGED, GONE = "here", "changed", "gone"


@dataclass(frozen=True)
class Anchor:
    quote: str
    prefix: str
    suffix: str
    start: int


@dataclass(frozen=True)
class Found:
    state: str  # HERE, CHANGED or GONE
    start: int = 0
    end: int = 0


def anchor_at(text: str, start: int, end: int) -> Anchor:
    """The anchor of text[start:end] (clamped to the text and to QUOTE_MAX_CHARS)."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text), start + QUOTE_MAX_CHARS))
    return Anchor(text[start:end], text[max(0, start - CONTEXT_CHARS) : start], text[end : end + CONTEXT_CHARS], start)


def _common_tail(a: str, b: str) -> int:
    n = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        n += 1
    return n


def _common_head(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def locate(text: str, anchor: Anchor) -> Found:
    if anchor.quote:
        # Near where it was first (a common word quoted in a long chapter has more than MAX_OCCURRENCES copies),
        # then anywhere; an occurrence with all its context is taken at once.
        near = max(0, anchor.start - NEAR_CHARS), anchor.start + len(anchor.quote) + NEAR_CHARS
        best = _best(text, anchor, *near)
        if best is None or best[0][0] < len(anchor.prefix) + len(anchor.suffix):
            anywhere = _best(text, anchor, 0, len(text))
            best = anywhere if best is None or (anywhere and anywhere[0] > best[0]) else best
        if best is not None:
            return Found(HERE, best[1], best[1] + len(anchor.quote))
    return _rewritten(text, anchor)


def _best(text: str, anchor: Anchor, lo: int, hi: int):
    """The occurrence of the quote in text[lo:hi] whose surroundings match the anchor's context best (then
    nearest its old place), as ((context, -distance), start); None if there is none."""
    best, at, seen = None, text.find(anchor.quote, lo, hi), 0
    while at != -1 and seen < MAX_OCCURRENCES:
        end = at + len(anchor.quote)
        context = _common_tail(text[max(0, at - CONTEXT_CHARS) : at], anchor.prefix) + _common_head(
            text[end : end + CONTEXT_CHARS], anchor.suffix
        )
        key = (context, -abs(at - anchor.start))
        if best is None or key > best[0]:
            best = (key, at)
        at, seen = text.find(anchor.quote, at + 1, hi), seen + 1
    return best


def _rewritten(text: str, anchor: Anchor) -> Found:
    """The quote is gone: if both context sides are still there, close together, the passage between them is what
    became of it."""
    if len(anchor.prefix) < 8 or len(anchor.suffix) < 8:
        return Found(GONE)
    after, seen = text.find(anchor.prefix), 0
    while after != -1 and seen < MAX_OCCURRENCES:
        start = after + len(anchor.prefix)
        end = text.find(anchor.suffix, start, start + 2 * len(anchor.quote) + 200 + len(anchor.suffix))
        if end != -1:
            return Found(CHANGED, start, end)
        after, seen = text.find(anchor.prefix, after + 1), seen + 1
    return Found(GONE)
