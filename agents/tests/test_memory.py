"""Story memory in pgvector with real all-MiniLM-L6-v2 embeddings."""

import numpy as np
import pytest
from django.db import connection

from agents.memory import store as memory
from agents.models import MemoryItem, MemoryKind
from agents.services import embeddings
from agents.tests.retrieval_set import PASSAGES, QUERIES
from tests.factories import cast, make_chapter, make_character, make_story, make_user, make_world_entry

pytestmark = pytest.mark.django_db


def test_passages_merge_short_paragraphs_split_long_ones_and_keep_offsets():
    text = "Short one.\n\nShort two.\n\n" + " ".join(f"Sentence number {i} is here." for i in range(60))
    passages = memory.chunk_passages(text, max_words=40)
    assert passages[0].text == "Short one.\n\nShort two."
    assert all(len(p.text.split()) <= 40 for p in passages)
    assert all(text[p.start : p.end] == p.text for p in passages)
    assert " ".join(p.text for p in passages[1:]).split() == text.split()[4:]


def test_embeddings_are_normalised_cached_and_mean_something(redis_conn, monkeypatch):
    texts = ["The brave knight fought the dragon", "courageous warrior battled serpent", "fresh bread at dawn"]
    knight, serpent, bread = embeddings.embed_many(texts)
    assert knight.shape == (384,) and abs(np.linalg.norm(knight) - 1) < 1e-5
    assert float(knight @ serpent) > float(knight @ bread) + 0.2

    def no_model():
        raise AssertionError("unchanged text was embedded again")

    monkeypatch.setattr(embeddings, "get_model", no_model)
    again = embeddings.embed_many(texts)
    assert all(np.array_equal(a, b) for a, b in zip(again, [knight, serpent, bread], strict=True))


def test_syncing_a_chapter_embeds_only_changed_passages(redis_conn):
    story = make_story(make_user())
    chapter = make_chapter(story, content="The ship docked.\n\n" + "word " * 130 + "\n\nThe gulls screamed.")
    first = memory.sync_chapter(chapter)
    assert first == {"embedded": 3, "kept": 0, "removed": 0}
    chapter.content = chapter.content.replace("The gulls screamed.", "The gulls fell silent.")
    chapter.save()
    assert memory.sync_chapter(chapter) == {"embedded": 1, "kept": 2, "removed": 1}
    assert memory.sync_chapter(chapter) == {"embedded": 0, "kept": 3, "removed": 0}  # idempotent
    last = chapter.memory_items.order_by("position").last()
    assert chapter.content[last.start_offset : last.end_offset] == "The gulls fell silent."


def test_characters_and_world_entries_are_remembered_per_story(redis_conn):
    owner = make_user()
    story = make_story(owner)
    mara = make_character(owner, name="Mara", appearance="Grey eyes.", speech_pattern="Clipped, nautical.")
    cast(story, mara, role="protagonist")
    make_world_entry(story, name="Greyhaven", description="A harbour town.")
    assert memory.sync_story(story)["embedded"] == 3
    kinds = set(MemoryItem.objects.for_story(story).values_list("kind", flat=True))
    assert kinds == {MemoryKind.CHARACTER, MemoryKind.DIALOGUE, MemoryKind.WORLD}

    story.cast.all().delete()
    memory.sync_character(mara)
    assert not MemoryItem.objects.filter(character=mara).exists()


def test_deleting_a_chapter_deletes_its_memory(redis_conn):
    chapter = make_chapter(make_story(make_user()), content="Something to remember.")
    memory.sync_chapter(chapter)
    chapter.delete()
    assert not MemoryItem.objects.exists()


@pytest.fixture
def harbour(redis_conn, settings):
    # Chunks of about two labelled sentences: a name is one word among many, as in a real chapter's memory.
    settings.MEMORY_PASSAGE_WORDS = 40
    owner = make_user()
    story = make_story(owner, title="Harbour")
    chapter = make_chapter(story, content="\n\n".join(PASSAGES.values()))
    memory.sync_chapter(chapter)
    return owner, story


def test_a_paraphrase_finds_the_passage(harbour):
    owner, story = harbour
    [best, *_] = memory.search(owner, "courageous warrior battled serpent", story=story, hybrid=False)
    assert PASSAGES["knight"] in best.text
    assert best.score > 0.4  # cosine similarity of a two-sentence chunk to a paraphrase of one of them


def test_search_never_returns_another_users_memory(harbour):
    owner, story = harbour
    stranger = make_user()
    assert memory.search(stranger, "courageous warrior battled serpent") == []
    other_story = make_story(stranger)
    assert memory.search(stranger, "dragon", story=other_story) == []


def test_filters_never_return_fewer_results_than_exist(harbour):
    """Many other stories fill the HNSW graph; the story filter still gets its full top-k."""
    owner, story = harbour
    noise = [make_story(make_user()) for _ in range(5)]
    for other in noise:
        memory.sync_chapter(make_chapter(other, content="\n\n".join(f"The dragon {v}" for v in PASSAGES.values())))
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # make the planner use the HNSW index for this check
    vector = embeddings.embed("a dragon")
    found = MemoryItem.objects.for_story(story).similar_to(vector, k=10)
    assert len(found) == 10 and {item.story_id for item in found} == {story.pk}


def rank_of(expected_text, found) -> int | None:
    """1-based rank of the first result (a chunk) that contains the labelled passage."""
    return next((i for i, item in enumerate(found, start=1) if expected_text in item.text), None)


def recall_at(ranks, k):
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mean_reciprocal_rank(ranks):
    return sum(1 / r for r in ranks if r is not None) / len(ranks)


def test_hybrid_retrieval_beats_vector_only_on_the_labelled_set(harbour, capsys):
    owner, story = harbour
    results = {}
    for mode in ("vector", "hybrid"):
        ranks = [
            rank_of(PASSAGES[expected], memory.search(owner, query, story=story, k=10, hybrid=mode == "hybrid"))
            for query, expected in QUERIES
        ]
        results[mode] = {
            "recall@1": recall_at(ranks, 1),
            "recall@5": recall_at(ranks, 5),
            "mrr": mean_reciprocal_rank(ranks),
        }
    with capsys.disabled():
        print(f"\nretrieval on {len(QUERIES)} labelled queries over {len(PASSAGES)} passages: {results}")
    assert results["hybrid"]["mrr"] > results["vector"]["mrr"]
    assert results["hybrid"]["recall@1"] > results["vector"]["recall@1"]
    assert results["hybrid"]["recall@5"] >= results["vector"]["recall@5"]
    assert results["hybrid"]["recall@5"] >= 0.9
