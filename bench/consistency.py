"""Consistency judging on the labelled pair set (agents/tests/data/consistency_pairs.json): similarity alone
against the LLM judge on the configured model (the embedded SmolLM2 unless LLM_PROVIDER / OLLAMA_HOST say
otherwise), with the time each judgement takes.

.venv/bin/python bench/consistency.py
"""

import json
import time

from common import percentile, setup_django, write_result


def main():
    setup_django()
    from django.conf import settings

    from agents.services import llm
    from agents.tests.consistency_set import LABELS, PAIRS, cosines, judged_contradiction, scores, similarity_alone

    similarity, _, _ = cosines()

    target = llm.resolve()
    predicted, seconds, unanswered = [], [], 0
    for pair in PAIRS:
        started = time.perf_counter()
        verdict = judged_contradiction(pair, cache=False)
        seconds.append(time.perf_counter() - started)
        unanswered += verdict is None
        predicted.append(bool(verdict))

    figures = {
        "pairs": len(PAIRS),
        "contradicting": sum(LABELS),
        "similarity_alone": similarity_alone(similarity),
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
