"""Lorebooks in and out: SillyTavern World Info JSON, NovelAI .lorebook, and the character_book inside a
Character Card. Each entry becomes a world entry with its keys; what this app has no field for is kept in the
entry's metadata, so exporting what was imported gives an equivalent lorebook.

Plain Python (no Django): an uploaded lorebook is read in the sandbox (`read_upload`)."""

import json
from types import SimpleNamespace

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
        kind, read = "novelai", [from_novelai(e) for e in raw if isinstance(e, dict)]
    elif isinstance(raw, dict):  # SillyTavern World Info: entries by uid
        kind, read = "sillytavern", [from_sillytavern(e) for e in raw.values() if isinstance(e, dict)]
    elif isinstance(raw, list):  # a Character Card's character_book
        kind, read = "character_book", [from_character_book(e) for e in raw if isinstance(e, dict)]
    else:
        raise LorebookError("The file is not a lorebook this app can read.")
    items = [piece for pieces in read for piece in pieces]
    if len(items) > MAX_ENTRIES:
        raise LorebookError(f"The lorebook has more than {MAX_ENTRIES:,} entries.")
    items = [i for i in items if i["name"] or i["description"]]
    if not items:
        raise LorebookError("The lorebook has no entries with text.")
    return kind, items


def text(value, limit: int | None = None) -> str:
    return str(value or "").replace("\x00", "")[:limit]


def keys(value) -> list[str]:
    return [text(k, 200) for k in value if str(k).strip()][:50] if isinstance(value, list) else []


def pieces(value: str, limit: int) -> list[str]:
    """`value` in pieces of at most `limit` characters, cut at paragraph breaks, else line breaks, else sentence
    ends, else spaces (in the second half of each piece); joined they give `value` back exactly. Linear."""
    out = []
    while len(value) > limit:
        window, cut = value[:limit], limit
        for mark in ("\n\n", "\n", ". ", " "):
            at = window.rfind(mark, limit // 2)
            if at >= 0:
                cut = at + len(mark)
                break
        out.append(value[:cut])
        value = value[cut:]
    return [*out, value]


def entry(name, description, keys_, secondary, original: dict, source: str) -> list[dict]:
    """The world entry for a lorebook entry; an entry longer than a world entry may be is several, "(1 of 3)" and
    so on, each marked so that an export joins them back into one."""
    found = keys(keys_)
    name = text(name, 200).strip() or (found[0] if found else "")
    meta = {"keys": found, "secondary_keys": keys(secondary), "lorebook": {"format": source, **original}}
    split = pieces(text(description), DESCRIPTION_MAX_CHARS)
    if len(split) == 1:
        return [{"name": name, "description": split[0], "kind": LORE, "metadata": meta}]
    return [
        {"name": f"{name[:180]} ({number} of {len(split)})", "description": piece, "kind": LORE,
         "metadata": {**meta, "part": {"name": name, "number": number, "of": len(split)}}}
        for number, piece in enumerate(split, start=1)
    ]  # fmt: skip


def from_sillytavern(e: dict) -> list[dict]:
    return entry(e.get("comment"), e.get("content"), e.get("key"), e.get("keysecondary"), e, "sillytavern")


def from_novelai(e: dict) -> list[dict]:
    return entry(e.get("displayName"), e.get("text"), e.get("keys"), [], e, "novelai")


def from_character_book(e: dict) -> list[dict]:
    name = e.get("name") or e.get("comment")
    return entry(name, e.get("content"), e.get("keys"), e.get("secondary_keys"), e, "character_book")


def joined(entries) -> list:
    """The world's entries for an export, the parts of an entry split on import joined back into one (in order,
    when every part is still there; otherwise each part as it is)."""
    entries = list(entries)
    groups: dict[str, list] = {}
    for e in entries:
        part = (e.metadata or {}).get("part")
        if isinstance(part, dict) and isinstance(part.get("number"), int):
            groups.setdefault(str(part.get("name")), []).append(e)
    out, done = [], set()
    for e in entries:
        part = (e.metadata or {}).get("part")
        group = groups.get(str(part.get("name"))) if isinstance(part, dict) else None
        if (
            not group
            or len(group) != part.get("of")
            or sorted(p.metadata["part"]["number"] for p in group) != list(range(1, len(group) + 1))
        ):
            out.append(e)
            continue
        if part["name"] in done:
            continue
        done.add(part["name"])
        group.sort(key=lambda p: p.metadata["part"]["number"])
        meta = {k: v for k, v in e.metadata.items() if k != "part"}
        out.append(SimpleNamespace(name=part["name"], description="".join(p.description for p in group), metadata=meta))
    return out


def original(entry_, source: str) -> dict:
    """The fields an imported entry came with, when it came from this kind of lorebook."""
    book = (entry_.metadata or {}).get("lorebook") or {}
    return {k: v for k, v in book.items() if k != "format"} if book.get("format") == source else {}


def to_sillytavern(entries) -> dict:
    """SillyTavern World Info JSON: every world entry, its keys (its name when it has none), and whatever an
    imported entry carried that this app does not use."""
    book = {}
    for index, e in enumerate(joined(entries)):
        meta, kept = e.metadata or {}, original(e, "sillytavern")
        uid = kept["uid"] if isinstance(kept.get("uid"), int) and str(kept["uid"]) not in book else index
        keys_ = meta.get("keys") or [e.name]
        # An entry that came with no comment was named by its first key; unrenamed, it goes back without one.
        comment = "" if kept.get("comment") == "" and e.name == keys_[0] else e.name
        book[str(uid)] = {
            **kept,
            "uid": uid, "key": keys_, "keysecondary": meta.get("secondary_keys") or [],
            "comment": comment, "content": e.description,
        }  # fmt: skip
    return {"entries": book}


def to_character_book(entries, name: str = "") -> dict:
    """A Character Card V2/V3 character_book."""
    items = []
    for index, e in enumerate(joined(entries)):
        meta = e.metadata or {}
        items.append({
            "insertion_order": index, "enabled": True, "extensions": {},
            **original(e, "character_book"),
            "keys": meta.get("keys") or [e.name], "secondary_keys": meta.get("secondary_keys") or [],
            "name": e.name, "content": e.description,
        })  # fmt: skip
    return {"name": name, "extensions": {}, "entries": items}
