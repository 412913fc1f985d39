"""Narrative patterns (tropes) in a story, found without a language model.

The catalogue (tropes.json) describes each pattern in a sentence, gives a few sentences of the kind a passage
using it would contain (signals) and words that point at it (cues). The story is read in windows of consecutive
passages (about the length of a plot synopsis); in each, the passages are compared with the signals by meaning
(the passages' memory vectors, so nothing is embedded twice) and the words with the cues.

What labelled plot synopses taught about a pattern (tropes-model.npz, fitted by bench/tropes.py --calibrate) turns
this into a likelihood, as the mean of two logistic models: one of meaning (how many cues, the closest passage's
likeness to the signals, the window's length, and where the window's mean vector points), one of wording (the
window's words and word pairs against the terms that told the pattern apart in the synopses, weighted tf-idf).
A pattern nobody labelled (the common ones of fiction the synopses do not name) has the average calibration of the
others' first four numbers instead. A pattern is a candidate where its likelihood passes the least likelihood and
the window holds a word that points at it; a story keeps its strongest few, each with the passage that resembles
the pattern most and the words found.

Likelihoods are evidence, not a verdict: a pattern can be present without its words, and its words can appear
without it. A capable model, when the writer has one configured, can confirm candidates and cite the passage.

Work is linear in the text: words are read once into sets, and each cue is a set look-up (a prefix cue, a
binary search in the sorted words); the learned terms are counted in one pass.
"""

import json
import math
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

CATALOGUE = Path(__file__).with_name("tropes.json")
MODEL = Path(__file__).with_name("tropes-model.npz")
FEATURES = ("cues", "any_cue", "similarity", "length")
WORD_RE = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
MAX_CUE_WORDS = 5
TELLING_TERMS = 25  # a pattern's learned terms that count as telling words: those that weigh most for it


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


@dataclass
class Candidate:
    trope: Trope
    score: float  # likelihood, 0-1
    passage: int  # index of the passage that resembles the pattern most
    similarity: float
    cues: list[str]  # the catalogue's cues found
    words: list[str] = field(default_factory=list)  # learned terms found that weigh most for the pattern

    @property
    def telling(self) -> list[str]:
        return self.cues + [w for w in self.words if w not in self.cues]


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
        )
        for t in data["tropes"]
    )


@dataclass(frozen=True)
class Learned:
    """The two logistic models per labelled pattern (rows in `rows` order; see the module's doc)."""

    rows: dict[str, int]  # pattern key -> row
    bias: np.ndarray  # rows: the meaning model's
    coef: np.ndarray  # rows x FEATURES
    direction: np.ndarray  # rows x vector size: weight of the window's mean vector
    terms: dict[str, int]  # learned word or word pair -> column
    term_names: tuple[str, ...]  # columns
    idf: np.ndarray  # columns
    wording_bias: np.ndarray  # rows
    wording: np.ndarray  # rows x columns
    telling: np.ndarray  # rows x columns, True for the TELLING_TERMS terms that weigh most for the pattern
    usual: np.ndarray  # rows: the share of the labelled synopses that use the pattern


@cache
def learned() -> Learned | None:
    if not MODEL.exists():
        return None
    with np.load(MODEL, allow_pickle=False) as f:
        wording = f["wording"].astype(np.float64)
        telling = np.zeros(wording.shape, bool)
        np.put_along_axis(telling, np.argsort(-wording, axis=1)[:, :TELLING_TERMS], True, axis=1)
        return Learned(
            rows={str(k): i for i, k in enumerate(f["keys"])},
            bias=f["bias"].astype(np.float64),
            coef=f["coef"].astype(np.float64),
            direction=f["direction"].astype(np.float32),
            terms={str(t): i for i, t in enumerate(f["terms"])},
            term_names=tuple(str(t) for t in f["terms"]),
            idf=f["idf"].astype(np.float64),
            wording_bias=f["wording_bias"].astype(np.float64),
            wording=wording,
            telling=telling & (wording > 0),
            usual=f["usual"].astype(np.float64),
        )


def terms(text: str) -> list[str]:
    """The words of a text and its pairs of neighbouring words, as the wording model counts them."""
    words = WORD_RE.findall(text.lower().replace("’", "'"))
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def term_weights(text: str, model: Learned) -> np.ndarray:
    """The text's tf-idf over the learned terms: 1 + log(count) times the term's idf, scaled to unit length (as
    scikit-learn's TfidfVectorizer with sublinear_tf computes it; bench/tropes.py --calibrate checks they agree)."""
    found = Counter(t for t in terms(text) if t in model.terms)
    vector = np.zeros(len(model.terms))
    for term, count in found.items():
        vector[model.terms[term]] = (1 + math.log(count)) * model.idf[model.terms[term]]
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


@dataclass
class Window:
    """What the learned models read of one window: its passages' mean vector (unit length) and its tf-idf."""

    vector: np.ndarray
    term_weights: np.ndarray


def window_of(texts: list[str], vectors: np.ndarray, words: int) -> Window | None:
    """What the learned models read of a window of `words` words; None when there is no model or the window is
    shorter than the shortest synopsis they learned from (their likelihoods would be guesses there)."""
    model = learned()
    if model is None or words < weights()["learned_from_words"]:
        return None
    mean = vectors.mean(axis=0)
    norm = np.linalg.norm(mean)
    return Window(mean / norm if norm else mean, term_weights(" ".join(texts), model))


def weights() -> dict:
    """How a story is read: words per window, how many cues count at most, the least likelihood of a candidate
    (and of one the catalogue's cues point at), how many patterns a story shows at most, and the fewest words of
    a window the learned models read."""
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


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def _row(trope: Trope) -> int | None:
    """The pattern's row in the learned models, None when they do not know it (or there are none)."""
    model = learned()
    return model.rows.get(trope.key) if model else None


def learned_likelihood(model: Learned, row: int, measured, vector: np.ndarray, term_weights: np.ndarray) -> float:
    """The mean of the meaning and the wording model's likelihoods (`measured`: the FEATURES' values in order).
    bench/tropes.py --calibrate chooses the least likelihood with this same function."""
    meaning = model.bias[row] + model.coef[row] @ measured + model.direction[row] @ vector
    wording = model.wording_bias[row] + model.wording[row] @ term_weights
    return (_sigmoid(float(meaning)) + _sigmoid(float(wording))) / 2


def likelihood(trope: Trope, measured: dict, window: Window | None = None) -> float:
    row = _row(trope) if window is not None else None
    if row is None:
        c = _data()["default_calibration"]
        return _sigmoid(c["bias"] + sum(c[name] * measured[name] for name in FEATURES))
    values = np.array([measured[n] for n in FEATURES])
    return learned_likelihood(learned(), row, values, window.vector, window.term_weights)


def usual_of(trope: Trope) -> float:
    """The share of the labelled synopses that use the pattern; 1 for a pattern the learned models do not know."""
    row = _row(trope)
    return 1.0 if row is None else float(learned().usual[row])


def learned_words(trope: Trope, window: Window | None, most: int = 3) -> list[str]:
    """The window's terms among those that weigh most for the pattern (model.telling), strongest here first."""
    row = _row(trope) if window is not None else None
    if row is None:
        return []
    model = learned()
    weight = np.where(model.telling[row], model.wording[row] * window.term_weights, 0.0)
    return [model.term_names[c] for c in np.argsort(-weight)[:most] if weight[c] > 0]


def readings(passages: list[str], vectors: np.ndarray, signal_vectors: np.ndarray):
    """For each window and each pattern looked for there: (pattern index, closest passage, cues found,
    features, window). Patterns told by the ending are looked for in the last window only, their cues in its last
    quarter.

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
        window = window_of(texts, vectors[span.start : span.stop], size)
        for index, trope in enumerate(catalogue()):
            words = last if trope.part == "ending" else whole
            if words is None:
                continue
            cues = cues_found(trope, words)
            closest = max(span, key=lambda i: per_pattern[index][i])
            yield index, closest, cues, features(len(cues), float(per_pattern[index][closest]), size), window


def scores(passages: list[str], vectors: np.ndarray, signal_vectors: np.ndarray) -> list[Candidate]:
    """Every pattern of the catalogue with its likelihood in the window where it is likeliest, in catalogue
    order."""
    best: dict[int, Candidate] = {}
    patterns = catalogue()
    for index, closest, cues, measured, window in readings(passages, vectors, signal_vectors):
        value = likelihood(patterns[index], measured, window)
        if index not in best or value > best[index].score:
            words = learned_words(patterns[index], window)
            best[index] = Candidate(patterns[index], value, closest, measured["similarity"], cues, words)
    return [best[index] for index in sorted(best)]


def shown(scored: list[Candidate]) -> list[Candidate]:
    """The candidates a writer is shown, likeliest first, at most weights' "limit", with something in the text
    that points at them: a cue of the catalogue (direct evidence, so weights' "least_with_cue" suffices), or
    learned terms that weigh most for the pattern with a likelihood of at least weights' "least" and above the
    pattern's usual share of stories (a likelihood near how common a pattern is says nothing about this story)."""
    w = weights()
    ranked = sorted(scored, key=lambda c: -c.score)[: w["limit"]]
    return [
        c
        for c in ranked
        if (c.cues and c.score >= w["least_with_cue"]) or (c.words and c.score >= max(w["least"], usual_of(c.trope)))
    ]


def candidates(passages: list[str], vectors: np.ndarray, signal_vectors: np.ndarray) -> list[Candidate]:
    """The patterns shown for these passages."""
    return shown(scores(passages, vectors, signal_vectors)) if passages else []
