"""Narrative patterns (tropes) in a story, found without a language model.

The catalogue (tropes.json) describes each pattern in a sentence, gives a few sentences of the kind a passage
using it would contain (signals) and words that point at it (cues). The story is read in windows of consecutive
passages (about the length of a plot synopsis); in each, the passages are compared with the signals by meaning
(the passages' memory vectors, so nothing is embedded twice) and the words with the cues. Each pattern turns
these into a likelihood through its own calibration (a logistic curve: how much its cues and likeness count,
and how common it is), kept in tropes.json. A pattern is a candidate where its likelihood passes the least
likelihood; a story keeps its strongest few, each with the passage that resembles the pattern most.

Likelihoods are evidence, not a verdict: a pattern can be present without its words, and its words can appear
without it. A capable model, when the writer has one configured, can confirm candidates and cite the passage.

Work is linear in the text: words are read once into sets, and each cue is a set look-up (a prefix cue, a
binary search in the sorted words).
"""

import json
import math
import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

CATALOGUE = Path(__file__).with_name("tropes.json")
WORD_RE = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
MAX_CUE_WORDS = 5


@dataclass(frozen=True)
class Trope:
    key: str
    name: str
    category: str
    description: str
    signals: tuple[str, ...]
    cues: tuple[str, ...]
    part: str  # "any", or "ending": look for the cues in the last quarter of the story only
    common: str  # "often", "sometimes", "rarely": how often fiction in general uses it
    staple_of: tuple[str, ...]  # genres in which it is a staple
    calibration: dict  # logistic weights: bias, cues, any_cue, similarity, length (tropes.json "calibration")


@dataclass
class Candidate:
    trope: Trope
    score: float  # likelihood, 0-1
    passage: int  # index of the passage that resembles the pattern most
    similarity: float
    cues: list[str]


def staple_in(trope: Trope, genre: str) -> str:
    """The genre of the story's (its free-text genre names it) in which the pattern is a staple, or ""."""
    words = genre.lower()
    return next((g for g in trope.staple_of if g in words), "")


def slug(name: str) -> str:
    return "-".join(WORD_RE.findall(name.lower().replace("'", "")))


@cache
def _data() -> dict:
    return json.loads(CATALOGUE.read_text())


@cache
def catalogue() -> tuple[Trope, ...]:
    data = _data()
    calibration = data.get("calibration", {})
    return tuple(
        Trope(
            key=slug(t["name"]),
            name=t["name"],
            category=t["category"],
            description=t["description"],
            signals=tuple(t["signals"]),
            cues=tuple(t["cues"]),
            part=t["part"],
            common=t["common"],
            staple_of=tuple(t.get("staple_of", ())),
            calibration=calibration.get(slug(t["name"]), data["default_calibration"]),
        )
        for t in data["tropes"]
    )


def weights() -> dict:
    """How a story is read: words per window, how many cues count at most, the least likelihood of a candidate,
    and how many patterns a story shows at most."""
    return _data()["weights"]


def by_key() -> dict[str, Trope]:
    return {t.key: t for t in catalogue()}


def signal_texts() -> tuple[list[str], np.ndarray]:
    """Every signal sentence and description, and for each the index of its pattern in the catalogue."""
    texts, owners = [], []
    for index, trope in enumerate(catalogue()):
        for text in (*trope.signals, trope.description):
            texts.append(text)
            owners.append(index)
    return texts, np.array(owners)


class Words:
    """The words of a text as sets of phrases up to MAX_CUE_WORDS long, for cue look-ups in constant time."""

    def __init__(self, text: str):
        words = WORD_RE.findall(text.lower().replace("’", "'"))
        self.phrases = set()
        for size in range(1, MAX_CUE_WORDS + 1):
            self.phrases.update(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))
        self.sorted_words = sorted({w for w in words})

    def has(self, cue: str) -> bool:
        """A phrase, or one word ending in * for any word that starts so."""
        if cue.endswith("*"):
            i = bisect_left(self.sorted_words, cue[:-1])
            return i < len(self.sorted_words) and self.sorted_words[i].startswith(cue[:-1])
        return cue in self.phrases


def cues_found(trope: Trope, words: Words) -> list[str]:
    return [cue for cue in trope.cues if words.has(cue)]


def ending(passages: list[str]) -> list[str]:
    """The passages of the last quarter (by words), at least one."""
    total = sum(len(p.split()) for p in passages)
    kept, seen = [], 0
    for passage in reversed(passages):
        kept.append(passage)
        seen += len(passage.split())
        if seen >= total / 4:
            break
    return kept[::-1]


def windows(passages: list[str], words: int) -> list[range]:
    """Runs of consecutive passages of about `words` words (a passage longer than that is a window of its own)."""
    found, start, count = [], 0, 0
    for index, passage in enumerate(passages):
        size = len(passage.split())
        if count and count + size > words:
            found.append(range(start, index))
            start, count = index, 0
        count += size
    if passages:
        found.append(range(start, len(passages)))
    return found


def features(cues: int, similarity: float, words: int) -> dict:
    """What a pattern's calibration weighs, for one window."""
    cap, longest = weights()["cue_cap"], weights()["window_words"]
    return {
        "cues": min(cues, cap),
        "any_cue": float(cues > 0),
        "similarity": similarity,
        "length": math.log(max(1, min(words, longest))),
    }


def likelihood(trope: Trope, measured: dict) -> float:
    c = trope.calibration
    z = c["bias"] + sum(c[name] * value for name, value in measured.items())
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def readings(passages: list[str], vectors: np.ndarray, signal_vectors: np.ndarray):
    """For each window and each pattern looked for there: (pattern index, closest passage, cues found,
    features). Patterns told by the ending are looked for in the last window only, in its last quarter.

    `vectors` holds one normalised vector per passage, `signal_vectors` one per entry of signal_texts()."""
    _, owners = signal_texts()
    similarity = vectors @ signal_vectors.T  # passages × signals
    per_pattern = [similarity[:, owners == index].max(axis=1) for index in range(len(catalogue()))]
    spans = windows(passages, weights()["window_words"])
    for number, span in enumerate(spans):
        texts = [passages[i] for i in span]
        size = sum(len(t.split()) for t in texts)
        whole = Words(" ".join(texts))
        last = Words(" ".join(ending(texts))) if number == len(spans) - 1 else None
        for index, trope in enumerate(catalogue()):
            words = last if trope.part == "ending" else whole
            if words is None:
                continue
            cues = cues_found(trope, words)
            closest = max(span, key=lambda i: per_pattern[index][i])
            yield index, closest, cues, features(len(cues), float(per_pattern[index][closest]), size)


def scores(passages: list[str], vectors: np.ndarray, signal_vectors: np.ndarray) -> list[Candidate]:
    """Every pattern of the catalogue with its likelihood in the window where it is likeliest, in catalogue
    order."""
    best: dict[int, Candidate] = {}
    patterns = catalogue()
    for index, closest, cues, measured in readings(passages, vectors, signal_vectors):
        value = likelihood(patterns[index], measured)
        if index not in best or value > best[index].score:
            best[index] = Candidate(patterns[index], value, closest, measured["similarity"], cues)
    return [best[index] for index in sorted(best)]


def shown(scored: list[Candidate]) -> list[Candidate]:
    """The candidates a writer is shown: at least as likely as weights' "least", with at least one telling word
    in the text (a likelihood from how common a pattern is alone says nothing about this story), likeliest
    first, at most weights' "limit"."""
    w = weights()
    ranked = sorted(scored, key=lambda c: -c.score)[: w["limit"]]
    return [c for c in ranked if c.score >= w["least"] and c.cues]


def candidates(passages: list[str], vectors: np.ndarray, signal_vectors: np.ndarray) -> list[Candidate]:
    """The patterns shown for these passages."""
    return shown(scores(passages, vectors, signal_vectors)) if passages else []
