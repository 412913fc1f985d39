"""Embedding throughput on this CPU with all-MiniLM-L6-v2: cold (model load and first encoding) and cached.

.venv/bin/python bench/embeddings.py [--sentences 2000] [--paragraphs 300]
"""

import argparse
import time

from common import paragraphs, sentences, setup_django, write_result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--paragraphs", type=int, default=300)
    args = parser.parse_args()
    setup_django()
    from django.core.cache import cache

    from agents.services import embeddings

    texts = {"sentences": sentences(args.sentences), "paragraphs": paragraphs(args.paragraphs)}
    # Start cold: none of these texts cached (the Redis cache survives between runs).
    for batch in texts.values():
        cache.delete_many([embeddings._cache_key(embeddings.text_hash(t)) for t in batch])

    started = time.perf_counter()
    embeddings.get_model()
    load_seconds = time.perf_counter() - started

    figures = {"model": embeddings.MODEL_NAME, "model_load_seconds": round(load_seconds, 2)}
    for name, batch in texts.items():
        started = time.perf_counter()
        embeddings.embed_many(batch)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        embeddings.embed_many(batch)
        cached = time.perf_counter() - started
        words = sum(len(t.split()) for t in batch) / len(batch)
        figures[name] = {
            "count": len(batch),
            "mean_words": round(words, 1),
            "cold_per_second": round(len(batch) / cold, 1),
            "cached_per_second": round(len(batch) / cached, 1),
        }
        print(
            f"{name:>10}: {len(batch)} × ~{words:.0f} words  cold {len(batch) / cold:8.1f}/s  "
            f"cached {len(batch) / cached:9.1f}/s"
        )
    print(f"model load: {load_seconds:.2f}s")
    print(f"written to {write_result('embeddings', figures)}")


if __name__ == "__main__":
    main()
