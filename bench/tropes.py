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

--calibrate fits the learned models of each labelled pattern on another labelled file of the same form and
writes them into agents/discovery/tropes-model.npz: a logistic model of meaning (the catalogue's cues found, the
closest passage's likeness to the signals, the length, and the synopsis's mean vector) and one of wording (tf-idf
of words and word pairs, names and function words left out, the 60 terms that weigh most for each pattern kept).
The least likelihood and the number of patterns kept are chosen on one half of that file with the other half's
fit, and written into agents/discovery/tropes.json with the average calibration used for patterns without labels.
The shipped models were fitted on the TiMoS train split (4,059 films, disjoint from the evaluation file), joined
to the synopses as the evaluation file's README describes: 2,540 films of 100-1,500 words with at least two of
the 60 tropes.
"""

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

from common import ROOT, setup_django, write_result

DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "tropes" / "tropes_eval.jsonl"
TERMS_PER_PATTERN = 60  # the learned terms kept per pattern (their union is the wording model's vocabulary)


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
    """Per item, as a reading of a story makes them (one window: synopses are shorter than a window): the features
    of every pattern, the passages' mean vector (unit length) and the text."""
    import numpy as np

    from agents.discovery import tropes
    from agents.discovery.patterns import signal_vectors

    signals = signal_vectors()
    for item in items:
        passages, vectors = read(item["text"])
        found = {}
        for index, _, _, features, _ in tropes.readings(passages, vectors, signals):
            found.setdefault(index, features)
        mean = vectors.mean(axis=0)
        yield found, mean / np.linalg.norm(mean), " ".join(passages)


def proper_names(texts) -> set[str]:
    """Words written with a capital more often than not (names of people, places, films), lower-cased."""
    capitals, seen = Counter(), Counter()
    for text in texts:
        for word in re.findall(r"[A-Za-z][A-Za-z'-]*", text):
            seen[word.lower()] += 1
            capitals[word.lower()] += word[0].isupper()
    return {w for w, n in seen.items() if capitals[w] * 2 > n}


def calibrate(path: Path):
    """Fit the patterns' models on a labelled file and write them into agents/discovery/tropes-model.npz (and the
    average calibration for patterns without labels, the least likelihood and the number kept into tropes.json)."""
    import numpy as np
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from agents.discovery import tropes

    items = read_items(path)
    catalogue = tropes.catalogue()
    rows = list(measured(items))
    X = np.array([[[row[0][i][n] for n in tropes.FEATURES] for i in range(len(catalogue))] for row in rows])
    V = np.array([row[1] for row in rows])
    texts = np.array([row[2] for row in rows], dtype=object)
    Y = np.array([[t.name in item["tropes"] for t in catalogue] for item in items])
    labelled = [j for j in range(len(catalogue)) if Y[:, j].sum() >= 10]
    half = np.arange(len(items)) % 2 == 0

    def logistic(features, labels, strength):
        model = LogisticRegression(max_iter=2000, C=strength).fit(features, labels)
        return float(model.intercept_[0]), model.coef_[0]

    def fit(mask) -> tropes.Learned:
        meaning = [logistic(np.hstack([X[mask, j], V[mask]]), Y[mask, j], 1.0) for j in labelled]
        # Wording: every word and pair seen in 3+ synopses (not in half of them) first; then only the terms that
        # weigh most for some pattern, fitted again on those alone (a few thousand terms, not a hundred thousand).
        # Names are left out (they tell which film or franchise a synopsis is about, not what happens in it), and
        # so are terms of function words alone ("which is", "had been"), which tell a writer nothing.
        names = proper_names(texts[mask])

        def ordinary(text):
            return [
                t
                for t in tropes.terms(text)
                if not any(w in names for w in t.split()) and not all(w in ENGLISH_STOP_WORDS for w in t.split())
            ]

        broad = TfidfVectorizer(analyzer=ordinary, sublinear_tf=True, min_df=3, max_df=0.5)
        counted = broad.fit_transform(texts[mask])
        found = broad.get_feature_names_out()
        kept = set()
        for j in labelled:
            kept.update(found[np.argsort(-np.abs(logistic(counted, Y[mask, j], 10.0)[1]))[:TERMS_PER_PATTERN]])
        narrow = TfidfVectorizer(analyzer=tropes.terms, sublinear_tf=True, vocabulary=sorted(kept))
        counted = narrow.fit_transform(texts[mask])
        wording = [logistic(counted, Y[mask, j], 3.0) for j in labelled]
        terms = narrow.get_feature_names_out()
        learned = tropes.Learned(
            rows={catalogue[j].key: r for r, j in enumerate(labelled)},
            bias=np.array([b for b, _ in meaning]),
            coef=np.array([w[: len(tropes.FEATURES)] for _, w in meaning]),
            direction=np.array([w[len(tropes.FEATURES) :] for _, w in meaning], dtype=np.float32),
            terms={t: i for i, t in enumerate(terms)},
            term_names=tuple(terms),
            idf=narrow.idf_,
            wording_bias=np.array([b for b, _ in wording]),
            wording=np.array([w for _, w in wording]),
            telling=np.zeros((len(labelled), len(terms)), bool),  # not needed to score
            usual=Y[mask][:, labelled].mean(axis=0),
        )
        for text in texts[mask][:20]:  # the product's tf-idf is scikit-learn's
            assert np.allclose(tropes.term_weights(text, learned), narrow.transform([text]).toarray()[0])
        return learned

    def probabilities(learned: tropes.Learned, mask) -> np.ndarray:
        p = np.zeros((mask.sum(), len(catalogue)))
        for i, (features, vector, text) in enumerate(zip(X[mask], V[mask], texts[mask], strict=True)):
            words = tropes.term_weights(text, learned)
            for r, j in enumerate(labelled):
                p[i, j] = tropes.learned_likelihood(learned, r, features[j], vector, words)
        return p

    held = probabilities(fit(half), ~half)
    gold = [{t.name for t, y in zip(catalogue, row, strict=True) if y} for row in Y[~half]]
    vocabulary = sorted({catalogue[j].name for j in labelled})
    ranked = [[catalogue[j].name for j in np.argsort(-row)] for row in held]
    best = None
    for least in np.arange(0.06, 0.31, 0.01):
        for limit in (6, 8, 10, 12, 15):
            predicted = []
            for row in held:
                order = np.argsort(-row)[:limit]
                predicted.append({catalogue[j].name for j in order if row[j] >= least})
            figures = evaluate(gold, predicted, ranked, vocabulary)
            if best is None or figures["micro_f1"] + figures["macro_f1"] > best[0]:
                best = (figures["micro_f1"] + figures["macro_f1"], round(float(least), 2), limit, figures)
    learned = fit(np.ones(len(items), bool))
    np.savez_compressed(
        tropes.MODEL,
        keys=np.array(list(learned.rows)),
        bias=learned.bias.astype(np.float32),
        coef=learned.coef.astype(np.float32),
        direction=learned.direction.astype(np.float16),
        terms=np.array(learned.term_names),
        idf=learned.idf.astype(np.float32),
        wording_bias=learned.wording_bias.astype(np.float32),
        wording=learned.wording.astype(np.float16),
        usual=learned.usual.astype(np.float32),
    )
    # Patterns without labels: the average of the labelled ones' calibration on the first four features alone.
    alone = [logistic(X[:, j], Y[:, j], 1.0) for j in labelled]
    data = json.loads(tropes.CATALOGUE.read_text())
    data.pop("calibration", None)
    data["default_calibration"] = {"bias": round(float(np.mean([b for b, _ in alone])), 4)} | {
        n: round(float(np.mean([w[i] for _, w in alone])), 4) for i, n in enumerate(tropes.FEATURES)
    }
    data["weights"] |= {"least": best[1], "limit": best[2]}
    tropes.CATALOGUE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"fitted {len(labelled)} patterns on {len(items)} items ({len(learned.terms)} terms); "
          f"least {best[1]}, limit {best[2]}")  # fmt: skip
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
