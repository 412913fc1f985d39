"""Does a character still sound like themselves? A draft's lines for a character are compared with the lines they
spoke earlier in the story, and, as the baseline, with the earlier lines of the rest of the cast.

The comparison is stylometric, so it needs no model: how often the common small words come (the strongest
signal of who is talking, and the least tied to what is being talked about), punctuation, line and word length,
contractions, and character trigrams (dialect: "ye", "ain't", "'em"). A character whose draft lines are closer to
someone else's earlier lines than to their own is flagged. Measured on labelled lines in bench/voices.py (the
project's own set, and lines attributed in the ConStory stories); the score is a signal, never a gate.
"""

import re
import zlib

import numpy as np

QUOTE_RE = re.compile(r"[\"“]([^\"”]{2,400})[\"”]")
WORD_RE = re.compile(r"[a-z']+")
FUNCTION_WORDS = str.split(
    "the a an and but or so of to in on at for with from by about as if then than "
    "i me my mine you your yours he him his she her it its we us our they them their "
    "is are was were be been being am do does did have has had will would shall should can could may might must "
    "not no yes well oh ah now just very quite rather really too indeed here there this that what who why how "
    "ye thee thou aye ain't 'em y'all gonna wanna dear sir madam please"
)
PUNCTUATION = ("!", "?", "…", "—", ",", ";", ":", "...", "--")
TRIGRAM_BUCKETS = 256
MIN_LINES = 2  # of a character's in the draft, and of their earlier lines, to say anything
# Blocks of the style vector and how much each counts (each block is normalised first).
WEIGHTS = {"words": 1.0, "punctuation": 0.6, "shape": 0.4, "trigrams": 0.8}


def lines_by_speaker(text: str, names: list[str]) -> dict[str, list[str]]:
    """Quoted lines from paragraphs that name exactly one of `names`: attributed to that one. Linear in the text."""
    found: dict[str, list[str]] = {}
    for paragraph in re.split(r"\n\s*\n", text):
        named = [name for name in names if name and re.search(rf"\b{re.escape(name)}\b", paragraph)]
        if len(named) == 1:
            found.setdefault(named[0], []).extend(QUOTE_RE.findall(paragraph))
    return {name: lines for name, lines in found.items() if lines}


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def style_vector(lines: list[str]) -> np.ndarray:
    """One vector for how a set of lines is said (not what it says)."""
    text = " ".join(lines).lower()
    words = WORD_RE.findall(text) or [""]
    index = {w: i for i, w in enumerate(FUNCTION_WORDS)}
    counts = np.zeros(len(FUNCTION_WORDS))
    for word in words:
        if word in index:
            counts[index[word]] += 1
    punctuation = np.array([text.count(p) for p in PUNCTUATION], dtype=float) / max(len(lines), 1)
    shape = np.array([
        np.mean([len(line.split()) for line in lines]) / 20,
        np.mean([len(w) for w in words]) / 5,
        sum("'" in w for w in words) / len(words) * 10,
        sum(line.rstrip().endswith("?") for line in lines) / len(lines),
    ])  # fmt: skip
    trigrams = np.zeros(TRIGRAM_BUCKETS)
    for word in words:
        padded = f" {word} "
        for i in range(len(padded) - 2):
            trigrams[zlib.crc32(padded[i : i + 3].encode()) % TRIGRAM_BUCKETS] += 1
    blocks = {"words": counts / len(words), "punctuation": punctuation, "shape": shape, "trigrams": trigrams}
    return unit(np.concatenate([unit(blocks[name]) * weight for name, weight in WEIGHTS.items()]))


def similarity(a: list[str], b: list[str]) -> float:
    return float(style_vector(a) @ style_vector(b))


def scores(draft_lines: dict[str, list[str]], earlier_lines: dict[str, list[str]]) -> dict[str, dict]:
    """For each character with enough lines in the draft and before it: how close the draft's lines are to their
    own earlier lines, to the closest other character's, and whom that is."""
    results = {}
    for name, lines in draft_lines.items():
        own = earlier_lines.get(name, [])
        if len(lines) < MIN_LINES or len(own) < MIN_LINES:
            continue
        others = {other: similarity(lines, said) for other, said in earlier_lines.items()
                  if other != name and len(said) >= MIN_LINES}  # fmt: skip
        closest = max(others, key=others.get) if others else None
        results[name] = {
            "own": round(similarity(lines, own), 3),
            "closest_other": closest,
            "other": round(others[closest], 3) if closest else None,
            "lines": len(lines),
        }
    return results
