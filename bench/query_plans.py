"""How PostgreSQL runs the queries that every writer's requests make, on the seeded site (`manage.py seed_site`):
EXPLAIN (ANALYZE, BUFFERS) of each, through the same QuerySets the views and the memory use.

    .venv/bin/python bench/query_plans.py

Prints per query the plan's node types, the indexes it uses, whether it reads a whole table (Seq Scan), and the
execution time; writes bench/results/query_plans.json with the full plans. The memory searches are asked for the
smallest and the largest seeded story (an imported novel), across one writer's stories, and by words.
"""

import re
import time

from common import setup_django, write_result

INDEX_RE = re.compile(r"(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)")


def explain(queryset, settings_sql=()):
    """The plan of `queryset` (ANALYZE, BUFFERS), run as the app runs it (inside a transaction with its SET LOCALs)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for statement in settings_sql:
            cursor.execute(statement)
        text = queryset.explain(analyze=True, buffers=True)
    seq_scans = sorted(set(re.findall(r"Seq Scan on (\w+)", text)))
    execution = re.search(r"Execution Time: ([\d.]+) ms", text)
    return {
        "execution_ms": float(execution.group(1)) if execution else None,
        "indexes": sorted(set(INDEX_RE.findall(text))),
        "seq_scans": seq_scans,
        "plan": text.splitlines(),
    }


def main():
    setup_django()
    from django.core.management import call_command
    from django.db.models import Count, Q, Sum
    from pgvector.django import CosineDistance

    from agents.models import Fact, MemoryItem, MemoryKind
    from agents.services.embeddings import embed
    from core.models import User
    from generation.models import GenerationTask
    from stories.models import Chapter, Story

    call_command("seed_site")
    writer = User.objects.get(email="seed-5@seed.invalid")
    sizes = Story.objects.annotate(items=Count("memory_items")).filter(items__gt=0).order_by("items")
    small, large = sizes.first(), sizes.last()
    chapter = Chapter.objects.filter(story__owner=writer).order_by("story_id", "order").first()
    vector = list(map(float, embed("The storm broke over the harbour while Mara searched for the letter.")))
    search = ["SET LOCAL hnsw.iterative_scan = relaxed_order", "SET LOCAL hnsw.ef_search = 100"]

    def nearest(queryset):
        return queryset.annotate(distance=CosineDistance("embedding", vector)).order_by("distance")[:10]

    queries = {
        "editor/autosave: the chapter and its story": (
            Chapter.objects.select_related("story").filter(
                story__owner=writer, story__deleted_at__isnull=True, story_id=chapter.story_id, pk=chapter.pk
            ),
            (),
        ),
        "dashboard: a writer's stories with counts": (
            Story.objects.owned_by(writer)
            .active()
            .annotate(chapter_total=Count("chapters"), word_total=Sum("chapters__word_count"))
            .order_by("-updated_at")[:24],
            (),
        ),
        "task status: recent durations for the wait estimate": (
            GenerationTask.objects.filter(
                status=GenerationTask.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False
            )
            .order_by("-finished_at")
            .values_list("started_at", "finished_at")[:20],
            (),
        ),
        f"memory: nearest passages in a small story ({small.items} items)": (
            nearest(MemoryItem.objects.for_story(small).of_kind(MemoryKind.PASSAGE)),
            search,
        ),
        f"memory: nearest passages in the largest story ({large.items} items)": (
            nearest(MemoryItem.objects.for_story(large).of_kind(MemoryKind.PASSAGE)),
            search,
        ),
        "memory: nearest across one writer's stories": (nearest(MemoryItem.objects.for_user(writer)), search),
        "memory: nearest anywhere (no filter)": (nearest(MemoryItem.objects.all()), search),
        "memory: words in the largest story": (
            MemoryItem.objects.for_story(large).filter(Q(search="harbour")).order_by("position")[:10],
            (),
        ),
        "facts: a story's ledger by key": (Fact.objects.filter(story=large).order_by("key")[:200], ()),
    }
    results = {}
    for name, (queryset, settings_sql) in queries.items():
        explain(queryset, settings_sql)  # warm the cache: the figures are for a running site
        started = time.perf_counter()
        results[name] = explain(queryset, settings_sql)
        results[name]["wall_ms"] = round((time.perf_counter() - started) * 1000, 2)
        row = results[name]
        print(f"{name}\n    {row['execution_ms']} ms; indexes {', '.join(row['indexes']) or '-'}; "
              f"whole-table scans {', '.join(row['seq_scans']) or 'none'}")  # fmt: skip
    path = write_result("query_plans", {"queries": results})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
