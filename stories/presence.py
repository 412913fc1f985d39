"""Who is in which chapter of a shared story, for the chapter list beside the editor.

Each open chapter websocket (stories/consumers.py) is one field of a Redis hash per story, holding the person and
the chapter with the time it last said it was there. Any web process can read the whole story's presence in one
HGETALL. A process killed without saying goodbye leaves its fields behind: they count as gone once they are older
than STALE_SECONDS (connections refresh theirs every HEARTBEAT_SECONDS), are removed by whoever reads them next,
and the whole hash expires when nobody is left to refresh it.
"""

import json
import threading
import time

import redis
from django.conf import settings

HEARTBEAT_SECONDS = 30
STALE_SECONDS = 90
MAX_SHOWN = 100  # a story has at most 50 collaborators; a few open several tabs

_client = None
_lock = threading.Lock()


def _redis() -> redis.Redis:
    """One connection pool per process (redis-py's client is safe across threads)."""
    global _client
    with _lock:
        if _client is None:
            _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
        return _client


def _key(story_id) -> str:
    return f"storyassistant:{settings.REDIS_DB}:presence:{story_id}"


def arrive(story_id, connection: str, user, chapter_id) -> list[dict]:
    """This connection is in the chapter (said again as a heartbeat); everyone in the story now."""
    entry = {"user": str(user.pk), "name": str(user), "chapter": chapter_id, "at": time.time()}
    pipe = _redis().pipeline()
    pipe.hset(_key(story_id), connection, json.dumps(entry))
    pipe.expire(_key(story_id), STALE_SECONDS * 2)
    pipe.execute()
    return here(story_id)


def leave(story_id, connection: str) -> list[dict]:
    _redis().hdel(_key(story_id), connection)
    return here(story_id)


def here(story_id) -> list[dict]:
    """Each person once per chapter they have open, by name; stale connections are removed on the way."""
    fields = _redis().hgetall(_key(story_id))
    now, stale, people = time.time(), [], {}
    for connection, raw in fields.items():
        entry = json.loads(raw)
        if now - entry["at"] > STALE_SECONDS:
            stale.append(connection)
        else:
            people[(entry["user"], entry["chapter"])] = {k: entry[k] for k in ("user", "name", "chapter")}
    if stale:
        _redis().hdel(_key(story_id), *stale)
    return sorted(people.values(), key=lambda p: (p["name"].lower(), p["chapter"]))[:MAX_SHOWN]
