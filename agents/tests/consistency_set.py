"""The labelled consistency pairs (data/consistency_pairs.json) and how they are scored, for the tests and for
bench/consistency.py alike."""

import json
from pathlib import Path

import numpy as np

from agents.checks import consistency
from agents.services import embeddings

PAIRS = json.loads((Path(__file__).parent / "data" / "consistency_pairs.json").read_text())
LABELS = [p["label"] == "contradiction" for p in PAIRS]


def scores(predicted: list[bool], actual: list[bool] = LABELS) -> dict:
    predicted = [bool(p) for p in predicted]
    tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
    fp = sum(p and not a for p, a in zip(predicted, actual, strict=True))
    fn = sum(a and not p for p, a in zip(predicted, actual, strict=True))
    return {
        "accuracy": round(sum(p == a for p, a in zip(predicted, actual, strict=True)) / len(actual), 3),
        "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
        "false_alarms": fp,
    }


def cosines() -> tuple[np.ndarray, list, list]:
    """Each pair's similarity, embedded the way the checks embed a profile and a new sentence; and the vectors."""
    earlier = embeddings.embed_many([f"{p['subject']}. {p['earlier']}" for p in PAIRS])
    new = embeddings.embed_many([p["new"] for p in PAIRS])
    return np.array([float(a @ b) for a, b in zip(earlier, new, strict=True)]), earlier, new


def similarity_alone(similarity: np.ndarray) -> dict:
    """Scores for flagging a pair as contradicting when its similarity is below a threshold: at the 0.85 the
    original design proposed, and at the best threshold there is."""
    sweep = [{"threshold": round(float(t), 2), **scores(list(similarity < t))} for t in np.arange(0.3, 0.95, 0.01)]
    return {"at_0.85": scores(list(similarity < 0.85)), "best": max(sweep, key=lambda s: s["accuracy"])}


def judged_contradiction(pair: dict, **options) -> bool | None:
    """The judge's verdict on one pair (a profile statement against a new sentence); None if it gave none."""
    statement = consistency.Statement(pair["earlier"], f"{pair['subject']}'s profile")
    comparisons = consistency.judge(pair["subject"], statement, pair["new"], **options)
    return None if comparisons is None else any(c["contradiction"] for c in comparisons)
