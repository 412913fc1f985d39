"""Consistency judging on the labelled pair set (agents/tests/data/consistency_pairs.json): similarity alone
against the LLM judge on the configured model (the embedded SmolLM2 unless LLM_PROVIDER / OLLAMA_HOST say
otherwise), with the time each judgement takes.

.venv/bin/python bench/consistency.py
"""

import json
import time

import numpy as np
from common import ROOT, percentile, setup_django, write_result

PAIRS = json.loads((ROOT / "agents" / "tests" / "data" / "consistency_pairs.json").read_text())
LABELS = [p["label"] == "contradiction" for p in PAIRS]


def scores(predicted):
    predicted = [bool(p) for p in predicted]
    tp = sum(p and a for p, a in zip(predicted, LABELS, strict=True))
    fp = sum(p and not a for p, a in zip(predicted, LABELS, strict=True))
    fn = sum(a and not p for p, a in zip(predicted, LABELS, strict=True))
    return {
        "accuracy": round(sum(p == a for p, a in zip(predicted, LABELS, strict=True)) / len(LABELS), 3),
        "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
        "false_alarms": fp,
    }


def main():
    setup_django()
    from django.conf import settings

    from agents import consistency, embeddings, llm

    earlier = embeddings.embed_many([f"{p['subject']}. {p['earlier']}" for p in PAIRS])
    new = embeddings.embed_many([p["new"] for p in PAIRS])
    similarity = np.array([float(a @ b) for a, b in zip(earlier, new, strict=True)])
    thresholds = {round(float(t), 2): scores(list(similarity < t)) for t in np.arange(0.3, 0.95, 0.01)}
    best = max(thresholds, key=lambda t: thresholds[t]["accuracy"])

    target = llm.resolve()
    predicted, seconds, unanswered = [], [], 0
    for pair in PAIRS:
        statement = consistency.Statement(pair["earlier"], f"{pair['subject']}'s profile")
        started = time.perf_counter()
        comparisons = consistency.judge(pair["subject"], statement, pair["new"], cache=False)
        seconds.append(time.perf_counter() - started)
        unanswered += comparisons is None
        predicted.append(any(c["contradiction"] for c in comparisons or []))

    figures = {
        "pairs": len(PAIRS),
        "contradicting": sum(LABELS),
        "similarity_alone": {"at_0.85": thresholds[0.85], "best": {"threshold": best, **thresholds[best]}},
        "judge": {
            "provider": target.provider.name,
            "model": target.model,
            **scores(predicted),
            "unanswered": unanswered,
            "seconds_per_judgement_p50": round(percentile(seconds, 50), 2),
            "seconds_per_judgement_p95": round(percentile(seconds, 95), 2),
        },
        "gate": settings.QA_RELATED_MIN_SIMILARITY,
    }
    print(json.dumps(figures, indent=2))
    print(f"written to {write_result('consistency', figures)}")


if __name__ == "__main__":
    main()
