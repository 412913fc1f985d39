"""A y-websocket client in Python (pycrdt over `websockets`), speaking to the chapter's websocket as a browser's
y-websocket provider does: the two-step sync, updates both ways, awareness. Used by tests and bench/cowrite.py."""

import asyncio
import json

import websockets
from pycrdt import (
    Decoder,
    Doc,
    Encoder,
    Text,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

TEXT = "text"
STORY_NEWS = 100  # the server's news about the story (who is where, review changes) as JSON


class YClient:
    def __init__(self, host: str, story_id: int, chapter_id: int, cookie: str, name: str = "writer"):
        self.url = f"ws://{host}/ws/stories/{story_id}/chapters/{chapter_id}"
        self.headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://{host}"}
        self.doc = Doc()
        self.text = self.doc.get(TEXT, type=Text)
        self.name = name
        self.synced = asyncio.Event()
        self.peers: dict[int, dict] = {}  # awareness states of the others, by client id
        self.presence: list[dict] | None = None  # who is in which chapter of the story
        self.reviews = 0  # how often the server said the chapter's comments or suggestions changed
        self.on_update = None  # called with the text after each remote update
        self.closed_with = None
        self.socket = None
        self._clock = 0
        self._reader = None
        self._outbox: list[bytes] = []  # local updates made while disconnected
        self.doc.observe(self._local_change)
        self._applying_remote = False

    def _local_change(self, event):
        if self._applying_remote:
            return
        message = create_update_message(event.update)
        if self.socket is None:
            self._outbox.append(message)
        else:
            asyncio.get_running_loop().create_task(self._send(message))

    async def _send(self, message: bytes):
        try:
            await self.socket.send(message)
        except (websockets.ConnectionClosed, AttributeError):
            self._outbox.append(message)

    async def connect(self, timeout: float = 10):
        self.synced.clear()
        self.socket = await websockets.connect(self.url, additional_headers=self.headers, max_size=2**24)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self.socket.send(create_sync_message(self.doc))  # our step 1
        for message in self._outbox:  # what we typed while away (the handshake would also bring it)
            await self.socket.send(message)
        self._outbox.clear()
        await asyncio.wait_for(self.synced.wait(), timeout)

    async def close(self):
        if self.socket is not None:
            await self.socket.close()
            self.socket = None
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self):
        try:
            async for message in self.socket:
                self._receive(message)
        except websockets.ConnectionClosed as closed:
            self.closed_with = closed.rcvd.code if closed.rcvd else None
        else:
            self.closed_with = self.socket.close_code if self.socket else None
        self.socket = None

    def _receive(self, message: bytes):
        kind = message[0]
        if kind == YMessageType.SYNC:
            self._applying_remote = True
            try:
                reply = handle_sync_message(message[1:], self.doc)
            finally:
                self._applying_remote = False
            if reply is not None:  # the server's step 1: send what it lacks
                asyncio.get_running_loop().create_task(self._send(reply))
            if message[1] == YSyncMessageType.SYNC_STEP2:
                self.synced.set()
            if self.on_update is not None and message[1] != YSyncMessageType.SYNC_STEP1:
                self.on_update(str(self.text))
        elif kind == STORY_NEWS:
            news = json.loads(Decoder(message[1:]).read_message())
            if "presence" in news:
                self.presence = news["presence"]
            self.reviews += bool(news.get("review"))
        elif kind == YMessageType.AWARENESS:
            decoder = Decoder(Decoder(message[1:]).read_message())
            for _ in range(decoder.read_var_uint()):
                client, _clock, state = decoder.read_var_uint(), decoder.read_var_uint(), decoder.read_var_string()
                if state == "null":
                    self.peers.pop(client, None)
                else:
                    self.peers[client] = json.loads(state)

    async def resync(self):
        """Ask for anything missed, as the browser does every few seconds (our state vector; the server answers)."""
        if self.socket is not None:
            await self._send(create_sync_message(self.doc))

    def insert(self, index: int, text: str):
        """Type `text` at character `index` (pycrdt counts UTF-8 bytes)."""
        current = str(self.text)
        self.text.insert(len(current[:index].encode()), text)

    def append(self, text: str):
        self.insert(len(str(self.text)), text)

    async def announce(self, state: dict):
        """Our presence (name, caret) as the browser's awareness sends it."""
        self._clock += 1
        encoder = Encoder()
        encoder.write_var_uint(1)
        encoder.write_var_uint(self.doc.client_id)
        encoder.write_var_uint(self._clock)
        encoder.write_var_string(json.dumps(state))
        await self.socket.send(create_awareness_message(encoder.to_bytes()))

    def __str__(self):
        return str(self.text)
