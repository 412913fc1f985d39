"""Scenes like this one: the writer's earlier passages close in meaning to a passage, where two characters
appear together, or of a kind (confrontation, reunion, confession…), in one story or across the library.

A scene is a passage of chapter memory (about MEMORY_PASSAGE_WORDS words), so nothing new is embedded to search:
characters are found with the full-text index (their full name or their first name, as a phrase), meaning with
the passages' vectors. A kind of scene (scene_kinds.json) is the mean meaning of a few sentences of that kind;
the small embedding model ranks passages by it well enough, but cannot name a passage's kind reliably, so
results are not labelled with one.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from agents.memory.store import name_query
from agents.models import MemoryItem, MemoryKind
from agents.services.embeddings import DIMENSIONS, embed, embed_many, text_hash

KINDS = Path(__file__).with_name("scene_kinds.json")
LIMIT = 10


@dataclass(frozen=True)
class SceneKind:
    key: str
    name: str
    signals: tuple[str, ...]


@cache
def _data() -> dict:
    return json.loads(KINDS.read_text())


def kinds() -> tuple[SceneKind, ...]:
    return tuple(SceneKind(k["key"], k["name"], tuple(k["signals"])) for k in _data()["kinds"])


def kind_vector(key: str) -> np.ndarray:
    """A kind's meaning: the mean of its signals' vectors, normalised."""
    kind = next(k for k in kinds() if k.key == key)
    mean = np.vstack(embed_many(list(kind.signals))).mean(axis=0)
    return mean / np.linalg.norm(mean)


def find(user, *, text: str = "", names=(), kind: str = "", story=None, k: int = LIMIT) -> list[MemoryItem]:
    """The writer's passages like this one: with every one of `names` in them, closest in meaning to `text`, to
    the kind, or to both (their vectors added), or in reading order when neither is given, in `story` or across
    the library. The passage that is `text` itself is left out. Results ranked by meaning have .score."""
    scenes = MemoryItem.objects.filter(owner=user, kind=MemoryKind.PASSAGE, chapter__isnull=False)
    scenes = scenes.filter(story__deleted_at__isnull=True, story__is_flagged=False)  # as the writer may open them
    if story is not None:
        scenes = scenes.filter(story=story)
    for name in names:
        scenes = scenes.filter(search=name_query(name))
    if text.strip():
        scenes = scenes.exclude(content_hash=text_hash(text.strip()))
    scenes = scenes.select_related("chapter", "story")
    if not (text.strip() or kind):
        return list(scenes.order_by("story_id", "chapter__order", "position")[:k])
    query = np.zeros(DIMENSIONS, dtype=np.float32)
    if text.strip():
        query += embed(text.strip())
    if kind:
        query += kind_vector(kind)
    return scenes.similar_to(query / np.linalg.norm(query), k)
