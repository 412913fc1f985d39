"""How well the story bible's pattern matcher finds tropes in text nobody on this project wrote.

    .venv/bin/python bench/tropes.py [--data PATH] [--limit N] [--judge]
    .venv/bin/python bench/tropes.py --calibrate PATH


Each item of the data file (JSON lines: "text" and "tropes", the gold names) is read the way a story is: cut into
passages as memory sync cuts chapters, embedded, and scored against the catalogue (agents/discovery/tropes.py),
without a model. Two sets of predictions are scored: the patterns the story bible would show (likely enough and
with a telling word in the text), and the likeliest patterns alone (which also guesses common patterns with no
word pointing at them: better figures here, no use to a writer). Only the names of the data's vocabulary
(trope_list.json beside the data, else every gold name) are scored; the title is never read. Prints and writes
(bench/results/tropes.json): micro- and macro-F1 over the vocabulary, precision at 1, 3 and 5 of the ranked
scores, F1 per trope, items scored and failures, and for scale the score of always predicting the six tropes most
common in the data.

With --judge and a capable model configured (LLM_PROVIDER and its model; the built-in model cannot judge), each
synopsis's shown candidates also go to the judge the story bible uses (one structured-output call each), and the
patterns it confirms with a sentence of their passage are scored as a third set.

The default data, ../shared/eval/tropes/tropes_eval.jsonl (film synopses, trope labels from TV Tropes via TiMoS,
CC BY-NC-SA), is for evaluation only: it is read here at run time and nowhere else, and nothing is tuned on it.

--calibrate fits each pattern's calibration (five numbers: how much its cues and likeness count, and how common
it is) on another labelled file of the same form, and writes them into agents/discovery/tropes.json; the least
likelihood and the number of patterns kept are chosen on one half of that file with the other half's fit. The
shipped calibration was fitted on the TiMoS train split (4,059 films, disjoint from the evaluation file), joined
to the synopses as the evaluation file's README describes: 2,548 films of 100-1,500 words with at least two of
the 60 tropes.
"""

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from common import ROOT, setup_django, write_result

DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "tropes" / "tropes_eval.jsonl"


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def evaluate(gold: list[set], predicted: list[set], ranked: list[list[str]], vocabulary: list[str]) -> dict:
    tp = sum(len(g & p) for g, p in zip(gold, predicted, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, predicted, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, predicted, strict=True))
    per_trope = {}
    for name in vocabulary:
        t = sum(1 for g, p in zip(gold, predicted, strict=True) if name in g and name in p)
        f = sum(1 for g, p in zip(gold, predicted, strict=True) if name not in g and name in p)
        n = sum(1 for g, p in zip(gold, predicted, strict=True) if name in g and name not in p)
        per_trope[name] = {"f1": round(f1(t, f, n), 3), "predicted": t + f, "gold": t + n}
    precision = {
        f"p_at_{k}": round(sum(len(set(r[:k]) & g) / k for g, r in zip(gold, ranked, strict=True)) / len(gold), 3)
        for k in (1, 3, 5)
    }
    return {
        "micro_f1": round(f1(tp, fp, fn), 3),
        "macro_f1": round(sum(v["f1"] for v in per_trope.values()) / len(vocabulary), 3),
        **precision,
        "predicted_per_item": round(sum(len(p) for p in predicted) / len(predicted), 2),
        "per_trope": per_trope,
    }


def read_items(path: Path, limit: int = 0) -> list[dict]:
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return items[:limit] if limit else items


def read(text: str):
    """A synopsis as a story's reading sees it: its passages, cut as memory sync cuts chapters, and their vectors."""
    import numpy as np

    from agents.memory.store import chunk_passages
    from agents.services.embeddings import embed_many

    passages = [p.text for p in chunk_passages(text)]
    return passages, np.vstack(embed_many(passages))


def measured(items: list[dict]):
    """Per item, the features of every pattern (one window: synopses are shorter than a window), as a reading of
    a story makes them."""
    from agents.discovery import tropes
    from agents.discovery.patterns import signal_vectors

    signals = signal_vectors()
    for item in items:
        passages, vectors = read(item["text"])
        found = {}
        for index, _, _, features in tropes.readings(passages, vectors, signals):
            found.setdefault(index, features)
        yield found


def calibrate(path: Path):
    """Fit each pattern's logistic calibration on a labelled file and write it into tropes.json."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from agents.discovery import tropes

    items = read_items(path)
    catalogue = tropes.catalogue()
    names = ["cues", "any_cue", "similarity", "length"]
    rows = list(measured(items))
    X = np.array([[[row[i][n] for n in names] for i in range(len(catalogue))] for row in rows])  # items × tropes × f
    Y = np.array([[t.name in item["tropes"] for t in catalogue] for item in items])
    half = np.arange(len(items)) % 2 == 0

    def fit(mask):
        fitted = {}
        for j, trope in enumerate(catalogue):
            if Y[mask, j].sum() >= 10:
                model = LogisticRegression(max_iter=1000).fit(X[mask, j], Y[mask, j])
                fitted[trope.key] = {"bias": float(model.intercept_[0])} | {
                    n: float(w) for n, w in zip(names, model.coef_[0], strict=True)
                }
        return fitted

    def probabilities(fitted, mask):
        z = np.zeros((mask.sum(), len(catalogue))) - 30
        for j, trope in enumerate(catalogue):
            if trope.key in fitted:
                c = fitted[trope.key]
                z[:, j] = c["bias"] + X[mask, j] @ np.array([c[n] for n in names])
        return 1 / (1 + np.exp(-z))

    held = probabilities(fit(half), ~half)
    gold = [{t.name for t, y in zip(catalogue, row, strict=True) if y} for row in Y[~half]]
    vocabulary = sorted({t.name for j, t in enumerate(catalogue) if Y[:, j].any()})
    best = None
    for least in (0.08, 0.1, 0.12, 0.15, 0.2):
        for limit in (6, 8, 10, 12, 15):
            predicted = []
            for row in held:
                order = np.argsort(-row)[:limit]
                predicted.append({catalogue[j].name for j in order if row[j] >= least})
            ranked = [[catalogue[j].name for j in np.argsort(-row)] for row in held]
            figures = evaluate(gold, predicted, ranked, vocabulary)
            if best is None or figures["micro_f1"] + figures["macro_f1"] > best[0]:
                best = (figures["micro_f1"] + figures["macro_f1"], least, limit, figures)
    fitted = fit(np.ones(len(items), bool))
    data = json.loads(tropes.CATALOGUE.read_text())
    data["calibration"] = {k: {n: round(v, 4) for n, v in c.items()} for k, c in fitted.items()}
    data["default_calibration"] = {
        n: round(float(np.mean([c[n] for c in fitted.values()])), 4) for n in ["bias", *names]
    }
    data["weights"] |= {"least": best[1], "limit": best[2]}
    tropes.CATALOGUE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"calibrated {len(fitted)} patterns on {len(items)} items; least {best[1]}, limit {best[2]}")
    print(f"on the held half: micro-F1 {best[3]['micro_f1']}, macro-F1 {best[3]['macro_f1']}, P@5 {best[3]['p_at_5']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0, help="score only the first N items (0: all)")
    parser.add_argument("--calibrate", type=Path, help="fit the calibration on this labelled file instead")
    parser.add_argument("--judge", action="store_true", help="also confirm candidates with the configured model")
    args = parser.parse_args()
    setup_django()
    if args.calibrate:
        calibrate(args.calibrate)
        return

    from agents.discovery import judge, tropes
    from agents.discovery.patterns import signal_vectors
    from agents.services import llm

    items = read_items(args.data, args.limit)
    able, who = judge.can_judge(None)
    judging = args.judge and able
    vocabulary_file = args.data.with_name("trope_list.json")
    if vocabulary_file.exists():
        vocabulary = [t["name"] for t in json.loads(vocabulary_file.read_text())]
    else:
        vocabulary = sorted({name for item in items for name in item["tropes"]})
    known = {t.name for t in tropes.catalogue()}
    missing = [name for name in vocabulary if name not in known]
    signals = signal_vectors()

    gold, predicted, likely, ranked, failures, seconds = [], [], [], [], 0, []
    confirmed, judge_failures = [], 0
    for item in items:
        gold.append(set(item["tropes"]) & set(vocabulary))
        started = time.perf_counter()
        try:
            passages, vectors = read(item["text"])
            scored = [c for c in tropes.scores(passages, vectors, signals) if c.trope.name in vocabulary]
        except Exception as exc:  # noqa: BLE001 - a failure counts as an empty prediction
            print(f"failed: {item.get('id')}: {exc}")
            failures += 1
            predicted.append(set())
            likely.append(set())
            confirmed.append(set())
            ranked.append([])
            continue
        seconds.append(time.perf_counter() - started)
        scored.sort(key=lambda c: -c.score)
        ranked.append([c.trope.name for c in scored])
        shown = tropes.shown(scored)
        predicted.append({c.trope.name for c in shown})
        if judging:
            try:
                verdicts, _ = (
                    judge.confirm(None, [(c.trope, passages[c.passage]) for c in shown]) if shown else ({}, "")
                )
            except (llm.LLMError, judge.Unreadable):
                verdicts, judge_failures = {}, judge_failures + 1
            confirmed.append({c.trope.name for c in shown if verdicts.get(c.trope.key)})
        weights = tropes.weights()
        likely.append({c.trope.name for c in scored[: weights["limit"]] if c.score >= weights["least"]})

    matcher = evaluate(gold, predicted, ranked, vocabulary)
    likelihood_only = evaluate(gold, likely, ranked, vocabulary)
    common = [name for name, _ in Counter(n for g in gold for n in g).most_common(6)]
    baseline = evaluate(gold, [set(common)] * len(gold), [common] * len(gold), vocabulary)
    result = {
        "data": str(args.data),
        "items": len(items),
        "failures": failures,
        "vocabulary": len(vocabulary),
        "vocabulary_not_in_catalogue": missing,
        "seconds_per_item_p50": round(sorted(seconds)[len(seconds) // 2], 3) if seconds else None,
        "matcher_without_model": matcher,
        "likelihood_alone_without_telling_words": {k: v for k, v in likelihood_only.items() if k != "per_trope"},
        "six_most_common_in_this_data": {k: v for k, v in baseline.items() if k != "per_trope"},
        "judge_with_capable_model": (
            {
                **{k: v for k, v in evaluate(gold, confirmed, ranked, vocabulary).items() if k != "per_trope"},
                "model": who,
                "failures": judge_failures,
            }
            if judging
            else f"not run: {who} cannot judge (configure a capable model and pass --judge)"
        ),
    }
    path = write_result("tropes", result)
    print(f"{len(items)} items, {failures} failures, {len(vocabulary)} tropes ({len(missing)} not in the catalogue)")
    rows = (("as shown (telling words)", matcher), ("likelihood alone", likelihood_only),
            ("six most common (for scale)", baseline))  # fmt: skip
    for label, figures in rows:
        print(
            f"{label:30} micro-F1 {figures['micro_f1']:.3f}  macro-F1 {figures['macro_f1']:.3f}  "
            f"P@1 {figures['p_at_1']:.3f}  P@3 {figures['p_at_3']:.3f}  P@5 {figures['p_at_5']:.3f}  "
            f"predicted/item {figures['predicted_per_item']}"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
