"""Writing a chapter together: the y-websocket sync and awareness protocol over Channels.

Each browser holds the chapter's Yjs document and sends its changes as updates. This consumer authorises the
user (stories.access: anyone who may read the story sees the text live and shows their presence; only writers'
changes are taken), answers the sync handshake from what is stored, passes updates and awareness (carets,
selections, names) to the chapter's other editors through the channel layer, and stores updates in small batches.
Any web process can serve any editor: they meet in the channel layer's group and the database.

A process killed mid-batch loses nothing: the browsers hold every update and send what the server lacks when they
reconnect (the handshake's second step).
"""

import asyncio
import json
import logging
import time

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import Http404
from pycrdt import (
    Decoder,
    Encoder,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
    get_state,
    get_update,
    merge_updates,
    write_var_uint,
)
from redis.exceptions import RedisError

from . import cowrite, presence
from .access import READ, StoryHidden, chapter_for
from .live import access_group

logger = logging.getLogger(__name__)

NOT_FOUND, BAD_MESSAGE, TOO_BIG = 4404, 4400, 4413
# Beside y-websocket's sync (0) and awareness (1): news about the story as JSON (static/js/cowrite.src.js reads it):
# {"presence": [{"user", "name", "chapter"}, ...]} when someone opens or leaves a chapter of the story, and
# {"review": true} when the chapter's comments or suggestions change.
STORY_NEWS = 100


class DraftConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = "drafts"

    async def dispatch(self, message):
        """As Channels does, without closing stale database connections first: that is a hop to a thread for
        every keystroke and every update passed on, and this consumer touches the database only through
        database_sync_to_async, which does it anyway."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        self.user = self.scope["user"]
        chapter = await self.authorise(kwargs["story_pk"], kwargs["pk"])
        if chapter is None:
            await self.close(code=NOT_FOUND)
            return
        self.chapter_id, self.story_id, self.writes = chapter.pk, chapter.story_id, chapter.story.can.write
        self.group, self.access = cowrite.draft_group(chapter.pk), access_group(chapter.story_id, self.user.pk)
        self.story_group = cowrite.story_group(chapter.story_id)
        self.pending, self.flushing, self.settling, self.awareness_clients = [], None, None, {}
        self.open, self.people, self.heartbeat = False, None, time.monotonic()
        # Join before loading: an update stored after the load is then certainly forwarded to this editor.
        for group in (self.group, self.access, self.story_group):
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.open = True
        self.state = await database_sync_to_async(cowrite.open_draft)(self.chapter_id)
        self.resyncs = 0
        # The server's step 1: the browser answers with whatever the server lacks (edits made while offline).
        await self.send(bytes_data=sync_message(YSyncMessageType.SYNC_STEP1, get_state(self.state)))
        await self.to_group("draft.joined", b"")  # the others send on what they have not stored yet
        await self.presence_changed(presence.arrive, self.story_id, self.channel_name, self.user, self.chapter_id)

    async def disconnect(self, code):
        if not hasattr(self, "group"):
            return
        self.open = False
        await self.flush()
        if isinstance(self.settling, asyncio.TimerHandle):  # leaving: settle now, not later
            self.settling.cancel()
            self.settling = None
            await database_sync_to_async(cowrite.settle)(self.chapter_id)
        if self.awareness_clients:  # the others stop showing this editor's caret at once
            await self.to_group("draft.awareness", create_awareness_message(removal(self.awareness_clients)))
        for group in (self.group, self.access, self.story_group):
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.presence_changed(presence.leave, self.story_id, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if not bytes_data:
            return
        if len(bytes_data) > settings.COWRITE_MESSAGE_MAX_BYTES:
            await self.close(code=TOO_BIG)
            return
        kind, body = bytes_data[0], bytes_data[1:]
        try:
            if kind == YMessageType.SYNC and body:
                await self.on_sync(body[0], Decoder(body[1:]).read_message() or b"")
            elif kind == YMessageType.AWARENESS:
                self.remember_awareness(Decoder(body).read_message() or b"")
                await self.to_group("draft.awareness", bytes_data)
        except (ValueError, IndexError, UnicodeDecodeError):  # not the protocol: this client is broken or hostile
            await self.close(code=BAD_MESSAGE)

    async def on_sync(self, step, payload):
        if step == YSyncMessageType.SYNC_STEP1:  # the browser's state: answer with what it lacks
            if self.resyncs:  # a periodic resync: what is stored now, so an update lost on the way is sent again
                self.state = await database_sync_to_async(cowrite.open_draft)(self.chapter_id)
                if time.monotonic() - self.heartbeat > presence.HEARTBEAT_SECONDS:
                    self.heartbeat = time.monotonic()  # still here (and anyone gone silent is dropped)
                    args = (self.story_id, self.channel_name, self.user, self.chapter_id)
                    await self.presence_changed(presence.arrive, *args, only_if_new=True)
            self.resyncs += 1
            self.state = merge_updates(self.state, *self.pending) if self.pending else self.state
            await self.send(bytes_data=sync_message(YSyncMessageType.SYNC_STEP2, get_update(self.state, payload)))
        elif step in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE) and payload != b"\x00\x00":
            if not self.writes:
                return  # readers and editors see the text; they change it through suggestions
            await self.to_group("draft.update", payload)
            self.pending.append(payload)
            if self.flushing is None:
                self.flushing = asyncio.get_running_loop().call_later(settings.COWRITE_FLUSH_SECONDS, self.flush_soon)

    def flush_soon(self):
        self.flushing = asyncio.ensure_future(self.flush())

    async def flush(self):
        """Store what arrived since the last batch as one update; the chapter's text follows a few seconds later
        (settled here, like an autosave, so a busy job queue never holds it back)."""
        pending, self.pending = self.pending, []
        if isinstance(self.flushing, asyncio.TimerHandle):
            self.flushing.cancel()
        self.flushing = None
        if pending:
            await database_sync_to_async(cowrite.store_update)(self.chapter_id, merge_updates(*pending), self.user.pk)
            if self.settling is None:
                self.settling = asyncio.get_running_loop().call_later(settings.COWRITE_SETTLE_SECONDS, self.settle_soon)

    def settle_soon(self):
        self.settling = asyncio.ensure_future(self.settle())

    async def settle(self):
        """Settle, unless another editor's connection did within the interval: then look again after it."""
        try:
            done = await database_sync_to_async(cowrite.settle)(self.chapter_id, settings.COWRITE_SETTLE_SECONDS)
        finally:
            self.settling = None
        if done is None and self.open:
            self.settling = asyncio.get_running_loop().call_later(settings.COWRITE_SETTLE_SECONDS, self.settle_soon)

    async def to_group(self, kind, data):
        await self.channel_layer.group_send(self.group, {"type": kind, "data": data, "sender": self.channel_name})

    async def draft_update(self, event):
        if event["sender"] != self.channel_name:
            await self.send(bytes_data=create_update_message(event["data"]))

    async def draft_joined(self, event):
        if event["sender"] != self.channel_name and self.pending:
            await self.to_group("draft.update", merge_updates(*self.pending))

    async def draft_awareness(self, event):
        if event["sender"] != self.channel_name:
            await self.send(bytes_data=event["data"])

    async def presence_changed(self, change, *args, only_if_new=False):
        """Make the change to the story's presence and tell every open chapter of the story who is where now.
        Best effort: presence is a courtesy, and the next change or heartbeat sends it again."""
        try:
            people = await sync_to_async(change, thread_sensitive=False)(*args)
        except (RedisError, OSError):
            logger.warning("presence in story %s not updated", self.story_id, exc_info=True)
            return
        if not (only_if_new and people == self.people):
            await self.channel_layer.group_send(self.story_group, {"type": "story.presence", "people": people})

    async def story_presence(self, event):
        self.people = event["people"]
        if self.open:
            await self.send(bytes_data=story_news({"presence": self.people}))

    async def draft_review(self, event):
        if event["by"] != str(self.user.pk):
            await self.send(bytes_data=story_news({"review": True}))

    async def access_revoked(self, event):
        await self.close(code=NOT_FOUND)

    def remember_awareness(self, update: bytes):
        """The client ids and clocks this connection announced, to say they left when it closes."""
        decoder = Decoder(update)
        for _ in range(min(decoder.read_var_uint(), 16)):
            client, clock = decoder.read_var_uint(), decoder.read_var_uint()
            state = decoder.read_var_string()
            if state == "null":
                self.awareness_clients.pop(client, None)
            else:
                self.awareness_clients[client] = clock

    @database_sync_to_async
    def authorise(self, story_pk, pk):
        if not self.user.is_authenticated:
            return None
        try:
            return chapter_for(self.user, story_pk, pk, READ)
        except (Http404, StoryHidden):  # either way, not this user's to open
            return None


def story_news(news: dict) -> bytes:
    payload = json.dumps(news).encode()
    return bytes([STORY_NEWS]) + write_var_uint(len(payload)) + payload


def sync_message(step: int, payload: bytes) -> bytes:
    return bytes([YMessageType.SYNC, step]) + write_var_uint(len(payload)) + payload


def removal(clients: dict) -> bytes:
    """An awareness update saying these clients are gone (their state null, one clock later)."""
    encoder = Encoder()
    encoder.write_var_uint(len(clients))
    for client, clock in clients.items():
        encoder.write_var_uint(client)
        encoder.write_var_uint(clock + 1)
        encoder.write_var_string(json.dumps(None))
    return encoder.to_bytes()
