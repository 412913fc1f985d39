"""Readers the sandbox tests run in the child: each does one thing a hostile file could make a parser do."""

import os
import time

from core.sandbox import Unreadable


def echo(data: bytes, folder, *, name: str) -> dict:
    (folder / "copy.bin").write_bytes(data)
    return {"name": name, "size": len(data), "file": "copy.bin"}


def refuse(data: bytes, folder) -> dict:
    raise Unreadable("This is not a file of the kind asked for.")


def hog_memory(data: bytes, folder) -> dict:
    held = []
    while True:
        held.append(bytearray(50 * 1024 * 1024))


def hog_cpu(data: bytes, folder) -> dict:
    while True:
        pass


def crash(data: bytes, folder) -> dict:
    os.abort()


def environment(data: bytes, folder) -> dict:
    return {"variables": sorted(os.environ)}


def sleep(data: bytes, folder) -> dict:
    time.sleep(3600)


def escape(data: bytes, folder) -> dict:
    return {"file": "../../etc/passwd"}
