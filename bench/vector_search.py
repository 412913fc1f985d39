"""Filtered top-10 vector search: pgvector (inside PostgreSQL) against ChromaDB on the same data, in one run.

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/vector_search.py [--items 200000] [--stories 1000] [--queries 300]

Data: real all-MiniLM-L6-v2 embeddings of generated story sentences, mixed so that each story's items cluster
around its own themes (as a story's memory does), 384 dimensions, normalised. Queries resemble a story's own
content. Ground truth is exact cosine search in NumPy. Latencies are measured from the client, one query at a
time, after a warm-up. Targets: pgvector p95 under 10 ms at recall@10 >= 0.95 with the story filter, and not
slower than ChromaDB at equal recall.
"""

import argparse
import re
import shutil
import tempfile
import time

import numpy as np
from common import percentile, sentences, setup_django, write_result

DIM = 384
BENCH_DB = "storyassistant_bench"
VECTOR_LITERAL = re.compile(r"'\[[^\]]*\]'::vector")


def make_data(items: int, stories: int, queries: int, seed: int = 42):
    from agents.services.embeddings import embed_many

    rng = np.random.default_rng(seed)
    base = np.stack(embed_many(sentences(3000, seed=5)))
    themes = base[rng.integers(0, len(base), size=(stories, 3))].mean(axis=1)
    story_ids = np.repeat(np.arange(stories), items // stories)[:items]
    story_ids = np.concatenate([story_ids, rng.integers(0, stories, items - len(story_ids))])

    def mix(ids, weight_base, weight_theme, weight_noise):
        picks = base[rng.integers(0, len(base), size=len(ids))]
        noise = rng.normal(size=(len(ids), DIM)).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        vectors = weight_base * picks + weight_theme * themes[ids] + weight_noise * noise
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    vectors = mix(story_ids, 0.55, 0.35, 0.10)
    query_stories = rng.integers(0, stories, size=queries)
    query_vectors = mix(query_stories, 0.5, 0.3, 0.2)
    return vectors, story_ids.astype(np.int32), query_vectors, query_stories.astype(np.int32)


def exact_top(vectors, story_ids, query, story=None, k=10):
    candidates = np.arange(len(vectors)) if story is None else np.flatnonzero(story_ids == story)
    scores = vectors[candidates] @ query
    return set(candidates[np.argsort(-scores)[:k]].tolist())


def measure(run_query, queries, truths, warmup=20):
    for q in queries[:warmup]:
        run_query(*q)
    latencies, recalls = [], []
    for q, truth in zip(queries, truths, strict=True):
        started = time.perf_counter()
        found = run_query(*q)
        latencies.append((time.perf_counter() - started) * 1000)
        recalls.append(len(set(found) & truth) / len(truth))
    return {
        "p50_ms": round(percentile(latencies, 50), 3),
        "p95_ms": round(percentile(latencies, 95), 3),
        "mean_ms": round(sum(latencies) / len(latencies), 3),
        "recall_at_10": round(float(np.mean(recalls)), 4),
    }


def pgvector_side(vectors, story_ids, queries, truths_filtered, truths_global):
    import psycopg
    from django.conf import settings
    from pgvector.psycopg import register_vector
    from psycopg import sql

    db = settings.DATABASES["default"]
    params = {"host": db["HOST"], "user": db["USER"], "password": db.get("PASSWORD") or None}
    if db.get("PORT"):
        params["port"] = db["PORT"]
    with psycopg.connect(dbname=db["NAME"], autocommit=True, **params) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(BENCH_DB)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    conn = psycopg.connect(dbname=BENCH_DB, autocommit=True, **params)
    conn.execute("CREATE EXTENSION vector")
    register_vector(conn)
    conn.execute("CREATE TABLE items (id integer PRIMARY KEY, story_id integer NOT NULL, embedding vector(384))")

    started = time.perf_counter()
    with conn.cursor().copy("COPY items (id, story_id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "int4", "vector"])
        for i, (story, vector) in enumerate(zip(story_ids, vectors, strict=True)):
            copy.write_row([i, int(story), vector])
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET max_parallel_maintenance_workers = 2")
    conn.execute("CREATE INDEX items_story ON items (story_id)")
    conn.execute(
        "CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
    )
    conn.execute("ANALYZE items")
    index_s = time.perf_counter() - started
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    conn.execute("SET hnsw.ef_search = 100")

    filtered_sql = "SELECT id FROM items WHERE story_id = %s ORDER BY embedding <=> %s LIMIT 10"
    # `story_id + 0` hides the b-tree from the planner: the HNSW graph with an iterative scan must do the filtering.
    forced_hnsw_sql = "SELECT id FROM items WHERE story_id + 0 = %s ORDER BY embedding <=> %s LIMIT 10"
    global_sql = "SELECT id FROM items ORDER BY embedding <=> %s LIMIT 10"

    def run(statement):
        return lambda *args: [row[0] for row in conn.execute(statement, args, prepare=True).fetchall()]

    filtered_queries = [(int(s), q) for q, s in queries]
    plan = conn.execute("EXPLAIN " + filtered_sql, filtered_queries[0]).fetchall()
    results = {
        "load_seconds": round(load_s, 1),
        "index_seconds": round(index_s, 1),
        "story_filter": measure(run(filtered_sql), filtered_queries, truths_filtered),
        "story_filter_plan": " / ".join(VECTOR_LITERAL.sub("$query", line[0].strip()) for line in plan[:4]),
        "story_filter_via_hnsw_iterative_scan": measure(run(forced_hnsw_sql), filtered_queries, truths_filtered),
        "unfiltered": measure(run(global_sql), [(q,) for q, _ in queries], truths_global),
    }
    conn.close()
    return results


def chroma_side(vectors, story_ids, queries, truths_filtered, truths_global):
    import chromadb

    folder = tempfile.mkdtemp(prefix="chroma-bench-")
    try:
        client = chromadb.PersistentClient(path=folder)
        collection = client.create_collection(
            "items", metadata={"hnsw:space": "cosine", "hnsw:construction_ef": 64, "hnsw:M": 16, "hnsw:search_ef": 100}
        )
        batch = min(client.get_max_batch_size(), 5000)
        started = time.perf_counter()
        for start in range(0, len(vectors), batch):
            stop = min(start + batch, len(vectors))
            collection.add(
                ids=[str(i) for i in range(start, stop)],
                embeddings=vectors[start:stop],
                metadatas=[{"story_id": int(s)} for s in story_ids[start:stop]],
            )
        load_s = time.perf_counter() - started

        def filtered(story, query):
            found = collection.query(query_embeddings=[query], n_results=10, where={"story_id": story}, include=[])
            return [int(i) for i in found["ids"][0]]

        def unfiltered(query):
            return [int(i) for i in collection.query(query_embeddings=[query], n_results=10, include=[])["ids"][0]]

        return {
            "version": chromadb.__version__,
            "load_and_index_seconds": round(load_s, 1),
            "story_filter": measure(filtered, [(int(s), q) for q, s in queries], truths_filtered),
            "unfiltered": measure(unfiltered, [(q,) for q, _ in queries], truths_global),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--stories", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--skip-chroma", action="store_true")
    args = parser.parse_args()
    setup_django()

    started = time.perf_counter()
    vectors, story_ids, query_vectors, query_stories = make_data(args.items, args.stories, args.queries)
    queries = list(zip(query_vectors, query_stories, strict=True))
    truths_filtered = [exact_top(vectors, story_ids, q, s) for q, s in queries]
    truths_global = [exact_top(vectors, story_ids, q) for q, _ in queries]
    print(f"data: {args.items} items over {args.stories} stories, {args.queries} queries "
          f"({time.perf_counter() - started:.0f}s to prepare)")  # fmt: skip

    figures = {"items": args.items, "stories": args.stories, "queries": args.queries, "dimensions": DIM}
    figures["pgvector"] = pgvector_side(vectors, story_ids, queries, truths_filtered, truths_global)
    if not args.skip_chroma:
        figures["chromadb"] = chroma_side(vectors, story_ids, queries, truths_filtered, truths_global)

    for store in ("pgvector", "chromadb"):
        for mode, result in figures.get(store, {}).items():
            if isinstance(result, dict):
                print(f"{store:>9} {mode:<38} p50 {result['p50_ms']:7.2f} ms  p95 {result['p95_ms']:7.2f} ms  "
                      f"recall@10 {result['recall_at_10']:.3f}")  # fmt: skip
    pg = figures["pgvector"]["story_filter"]
    figures["targets"] = {
        "pgvector_story_filter_p95_under_10ms": pg["p95_ms"] < 10,
        "pgvector_story_filter_recall_at_least_0.95": pg["recall_at_10"] >= 0.95,
    }
    if "chromadb" in figures:
        chroma = figures["chromadb"]["story_filter"]
        figures["targets"]["pgvector_not_slower_than_chromadb_at_equal_or_better_recall"] = (
            pg["p95_ms"] <= chroma["p95_ms"] and pg["recall_at_10"] >= chroma["recall_at_10"]
        )
    print(f"targets: {figures['targets']}")
    print(f"written to {write_result('vector_search', figures)}")


if __name__ == "__main__":
    main()
