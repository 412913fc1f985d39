"""Django's Redis cache with one connection pool per process, where an unreachable Redis is a cache miss.

Django makes a cache object per thread, and under ASGI every request runs on a thread of its own, so the stock
backend opened a new Redis connection for each request that touched the cache (a rate limit, a cached vector).
And everything cached here (vectors, model answers, a streaming draft) can be had again or is also in the
database, so Redis restarting must not fail a request or a generation.
"""

import logging
import threading

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class SharedPoolClient(RedisCacheClient):
    _pools: dict = {}
    _lock = threading.Lock()

    def _get_connection_pool(self, write):
        url = self._servers[self._get_connection_pool_index(write)]
        with self._lock:
            if url not in SharedPoolClient._pools:
                SharedPoolClient._pools[url] = self._pool_class.from_url(url, **self._pool_options)
            return SharedPoolClient._pools[url]


class RedisCache(DjangoRedisCache):
    """Reads miss and writes are skipped while Redis is unreachable. `incr` still raises: a counter that cannot
    count must say so (the rate limiter then lets the request through)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolClient

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except RedisError:
            log.warning("Cache unreachable; reading %s as a miss", key)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except RedisError:
            log.warning("Cache unreachable; reading %d keys as misses", len(keys))
            return {}

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except RedisError:
            log.warning("Cache unreachable; %s not stored", key)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except RedisError:
            log.warning("Cache unreachable; %d keys not stored", len(data))
            return list(data)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except RedisError:
            log.warning("Cache unreachable; %s not added", key)
            return False

    def count(self, key, timeout: int, version=None) -> int:
        """Add one to a counter that expires `timeout` seconds after its first count, in one round trip (a
        pipeline: create it at 0 unless it exists, then increment). Raises RedisError when Redis cannot count."""
        key = self.make_and_validate_key(key, version=version)
        client = self._cache.get_client(key, write=True)
        with client.pipeline(transaction=False) as pipe:
            pipe.set(key, 0, ex=timeout, nx=True)
            pipe.incr(key)
            return pipe.execute()[1]
