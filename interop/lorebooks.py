"""Lorebooks in and out: SillyTavern World Info JSON, NovelAI .lorebook, and the character_book inside a
Character Card. Each entry becomes a world entry with its keys; what this app has no field for is kept in the
entry's metadata, so exporting what was imported gives an equivalent lorebook.

Plain Python (no Django): an uploaded lorebook is read in the sandbox (`read_upload`)."""

import json

from core.sandbox import Unreadable

MAX_ENTRIES = 2000
LORE = "lore"  # WorldEntry.Kind.LORE
DESCRIPTION_MAX_CHARS = 20000  # WorldEntry.description


class LorebookError(Unreadable):
    """Not a lorebook this app can read; the message says why. Nothing was saved."""


def read_upload(data: bytes, folder, *, max_bytes: int) -> dict:
    """The sandbox's entry point: the lorebook's format and its entries."""
    kind, items = parse(data, max_bytes)
    return {"format": kind, "entries": items}


def parse(data: bytes, max_bytes: int) -> tuple[str, list[dict]]:
    """The lorebook's format and its entries as world entry fields (name, description, kind, metadata)."""
    if len(data) > max_bytes:
        raise LorebookError(f"The lorebook is larger than {max_bytes // (1024 * 1024)} MB.")
    try:
        book = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LorebookError("The file is not a lorebook: it is not JSON.") from exc
    if not isinstance(book, dict) or "entries" not in book:
        raise LorebookError("The file is not a lorebook: it has no entries.")
    raw = book["entries"]
    if isinstance(book.get("lorebookVersion"), int) and isinstance(raw, list):
        kind, items = "novelai", [from_novelai(e) for e in raw if isinstance(e, dict)]
    elif isinstance(raw, dict):  # SillyTavern World Info: entries by uid
        kind, items = "sillytavern", [from_sillytavern(e) for e in raw.values() if isinstance(e, dict)]
    elif isinstance(raw, list):  # a Character Card's character_book
        kind, items = "character_book", [from_character_book(e) for e in raw if isinstance(e, dict)]
    else:
        raise LorebookError("The file is not a lorebook this app can read.")
    if len(items) > MAX_ENTRIES:
        raise LorebookError(f"The lorebook has more than {MAX_ENTRIES:,} entries.")
    items = [i for i in items if i["name"] or i["description"]]
    if not items:
        raise LorebookError("The lorebook has no entries with text.")
    return kind, items


def text(value, limit: int) -> str:
    return str(value or "").replace("\x00", "")[:limit]


def keys(value) -> list[str]:
    return [text(k, 200) for k in value if str(k).strip()][:50] if isinstance(value, list) else []


def entry(name, description, keys_, secondary, original: dict, source: str) -> dict:
    found = keys(keys_)
    return {
        "name": text(name, 200).strip() or (found[0] if found else ""),
        "description": text(description, DESCRIPTION_MAX_CHARS),
        "kind": LORE,
        "metadata": {"keys": found, "secondary_keys": keys(secondary), "lorebook": {"format": source, **original}},
    }


def from_sillytavern(e: dict) -> dict:
    return entry(e.get("comment"), e.get("content"), e.get("key"), e.get("keysecondary"), e, "sillytavern")


def from_novelai(e: dict) -> dict:
    return entry(e.get("displayName"), e.get("text"), e.get("keys"), [], e, "novelai")


def from_character_book(e: dict) -> dict:
    name = e.get("name") or e.get("comment")
    return entry(name, e.get("content"), e.get("keys"), e.get("secondary_keys"), e, "character_book")


def original(entry_, source: str) -> dict:
    """The fields an imported entry came with, when it came from this kind of lorebook."""
    book = (entry_.metadata or {}).get("lorebook") or {}
    return {k: v for k, v in book.items() if k != "format"} if book.get("format") == source else {}


def to_sillytavern(entries) -> dict:
    """SillyTavern World Info JSON: every world entry, its keys (its name when it has none), and whatever an
    imported entry carried that this app does not use."""
    book = {}
    for index, e in enumerate(entries):
        meta, kept = e.metadata or {}, original(e, "sillytavern")
        uid = kept["uid"] if isinstance(kept.get("uid"), int) and str(kept["uid"]) not in book else index
        book[str(uid)] = {
            **kept,
            "uid": uid, "key": meta.get("keys") or [e.name], "keysecondary": meta.get("secondary_keys") or [],
            "comment": e.name, "content": e.description,
        }  # fmt: skip
    return {"entries": book}


def to_character_book(entries, name: str = "") -> dict:
    """A Character Card V2/V3 character_book."""
    items = []
    for index, e in enumerate(entries):
        meta = e.metadata or {}
        items.append({
            "insertion_order": index, "enabled": True, "extensions": {},
            **original(e, "character_book"),
            "keys": meta.get("keys") or [e.name], "secondary_keys": meta.get("secondary_keys") or [],
            "name": e.name, "content": e.description,
        })  # fmt: skip
    return {"name": name, "extensions": {}, "entries": items}
