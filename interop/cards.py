"""Character Cards (V1, V2 and V3, as SillyTavern and chub.ai use them) in and out: JSON, or a PNG whose `chara`
(V2) and `ccv3` (V3) text chunks hold the card, base64-encoded, with the picture as the portrait.

A card's fields map onto the profile (description to backstory, personality, example dialogue to the voice);
everything else it carries (greetings, scenario, tags, the embedded lorebook, extensions) is kept in the
character's attributes, so exporting an imported card gives an equivalent card. The profile's appearance and
goals travel in the card's extensions, and appearance also leads the description other tools read.

An uploaded card is read in the sandbox (`read_upload`): a PNG's text chunks are found by walking its chunks,
without decoding a single frame (an animated PNG's every frame was decoded to reach text stored after them), and
the picture is cleaned from its first frame only.
"""

import base64
import binascii
import io
import json
import zlib
from dataclasses import dataclass

from PIL import Image, PngImagePlugin

from core.sandbox import Unreadable
from pictures.images import PictureRejected, clean, save_clean

from . import lorebooks

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = (b"chara", b"ccv3")
# Card fields that map onto the profile; the rest of `data` is kept as it came.
MAPPED = {"name", "description", "personality", "mes_example"}
OVERFLOWING = {"description": "backstory", "personality": "personality", "mes_example": "speech_pattern"}
EXTENSION = "storyassistant"
LIMITS = {"name": 200, "appearance": 10000, "personality": 10000, "backstory": 20000, "speech_pattern": 5000,
          "goals": 5000}  # fmt: skip


class CardError(Unreadable):
    """Not a character card this app can read; the message says why. Nothing was saved."""


@dataclass
class Card:
    fields: dict  # Character fields: name, appearance, personality, backstory, speech_pattern, goals
    kept: dict  # the card's other data fields, as they came
    spec: str  # chara_card_v1, chara_card_v2 or chara_card_v3
    image: bytes | None = None  # the PNG the card came in: the portrait
    overflow: dict | None = None  # card fields longer than their profile field: the whole text, by card key


def read_upload(
    data: bytes, folder, *, max_bytes: int, max_picture_bytes: int, max_pixels: int, lorebook_bytes: int | None = None
) -> dict:
    """The sandbox's entry point: the card's fields, its portrait cleaned into `folder`, and (when
    `lorebook_bytes` is given, for a card going into a story) its lorebook's entries."""
    card = read(data, max_bytes)
    portrait, note = None, ""
    if card.image:
        try:
            portrait = save_clean(clean(card.image, max_picture_bytes, max_pixels), folder, "portrait")
        except PictureRejected as exc:  # the card is intact even when the picture around it is not
            note = f"Its picture could not be used ({str(exc).rstrip('.')}), so it has no portrait."
    book = card.kept.get("character_book")
    entries = []
    if lorebook_bytes and isinstance(book, dict) and book.get("entries"):
        entries = lorebooks.parse(json.dumps(book).encode(), lorebook_bytes)[1]
    return {"fields": card.fields, "kept": card.kept, "spec": card.spec, "portrait": portrait, "lore": entries,
            "portrait_note": note, "overflow": card.overflow or {}}  # fmt: skip


def read(data: bytes, max_bytes: int) -> Card:
    if len(data) > max_bytes:
        raise CardError(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    if data[:8] == PNG_SIGNATURE:
        return from_png(data, max_bytes)
    try:
        card = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CardError("The file is neither a character card's JSON nor a PNG with a card in it.") from exc
    return from_json(card)


def png_text(data: bytes, keywords=CARD_KEYWORDS, max_text: int = 20 * 1024 * 1024) -> dict[bytes, str]:
    """The PNG's text chunks (tEXt, zTXt, iTXt) with the given keywords, found by walking the chunks in one pass;
    compressed text is inflated no further than `max_text`. Nothing is decoded."""
    found, at = {}, len(PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if len(body) < length:
            if found:  # the card came whole before the damage: the picture alone is lost
                break
            raise CardError("The PNG is damaged: it ends in the middle of a part.")
        if kind == b"IEND":
            break
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            keyword, _, rest = body.partition(b"\0")
            if keyword in keywords:
                found[keyword] = _chunk_text(kind, rest, max_text)
        at += 12 + length  # length, type, data, CRC
    return found


def _chunk_text(kind: bytes, rest: bytes, max_text: int) -> str:
    if kind == b"tEXt":
        return rest.decode("latin-1")
    if kind == b"zTXt":
        return _inflate(rest[1:], max_text).decode("latin-1")
    compressed, rest = rest[:1] == b"\1", rest[2:]  # iTXt: flag, method, language\0, translated keyword\0, text
    rest = rest.partition(b"\0")[2].partition(b"\0")[2]
    return (_inflate(rest, max_text) if compressed else rest).decode("utf-8", "replace")


def _inflate(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise CardError("The character card in this PNG is damaged.") from exc
    if inflater.unconsumed_tail:
        raise CardError("The character card in this PNG expands to far more than a card could; it was refused.")
    return out


def from_png(data: bytes, max_bytes: int) -> Card:
    chunks = png_text(data, max_text=max_bytes)
    encoded = chunks.get(b"ccv3") or chunks.get(b"chara")  # V3 first: it carries more
    if not encoded:
        raise CardError("This PNG has no character card in it (no chara or ccv3 text chunk).")
    try:
        card = json.loads(base64.b64decode(encoded, validate=False).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CardError("The character card in this PNG is damaged.") from exc
    result = from_json(card)
    result.image = data
    return result


def text(value, limit: int | None) -> str:
    return str(value if value is not None else "").replace("\x00", "")[:limit]


def from_json(card) -> Card:
    if not isinstance(card, dict):
        raise CardError("The file is not a character card.")
    if "entries" in card and not card.get("name") and not isinstance(card.get("data"), dict):
        raise CardError(
            "This is a lorebook (World Info), not a character card: import it from a story's World page, with "
            "Import lorebook."
        )
    spec = card.get("spec") or "chara_card_v1"
    data = card.get("data") if spec in ("chara_card_v2", "chara_card_v3") else card
    if spec not in ("chara_card_v1", "chara_card_v2", "chara_card_v3") or not isinstance(data, dict):
        raise CardError(f"Unknown character card format “{text(spec, 40)}”.")
    name = text(data.get("name"), LIMITS["name"]).strip()
    if not name:
        raise CardError("The character card has no name.")
    extensions = data.get("extensions") if isinstance(data.get("extensions"), dict) else {}
    ours = extensions.get(EXTENSION) if isinstance(extensions.get(EXTENSION), dict) else {}
    fields = {
        "name": name,
        "personality": text(data.get("personality"), LIMITS["personality"]),
        "backstory": text(ours.get("backstory", data.get("description")), LIMITS["backstory"]),
        "speech_pattern": text(data.get("mes_example"), LIMITS["speech_pattern"]),
        "appearance": text(ours.get("appearance"), LIMITS["appearance"]),
        "goals": text(ours.get("goals"), LIMITS["goals"]),
    }
    kept = {k: v for k, v in data.items() if k not in MAPPED}
    if ours:
        kept["extensions"] = {k: v for k, v in extensions.items() if k != EXTENSION}
    if spec == "chara_card_v1":
        kept = {k: v for k, v in kept.items() if k in ("scenario", "first_mes")}
    # A card field longer than its profile field holds: the profile gets its beginning, the whole is kept and goes
    # out with the card again, and the character page says so. Nothing is lost.
    overflow = {
        key: full for key, field in OVERFLOWING.items()
        if not ours and len(full := text(data.get(key), None)) > LIMITS[field]
    }  # fmt: skip
    return Card(fields=fields, kept=kept, spec=spec, overflow=overflow)


def card_data(character) -> dict:
    """The `data` of a V2/V3 card for the character."""
    kept = dict((character.attributes or {}).get("card") or {})
    description = "\n\n".join(p for p in (character.appearance, character.backstory) if p.strip())
    extensions = dict(kept.get("extensions") or {})
    if character.appearance.strip() or character.goals.strip():  # else the description is the backstory
        extensions[EXTENSION] = {k: getattr(character, k) for k in ("appearance", "goals", "backstory")}
    data = {
        "scenario": "", "first_mes": "", "creator_notes": "", "system_prompt": "", "post_history_instructions": "",
        "alternate_greetings": [], "tags": [], "creator": "", "character_version": "",
        **kept,
        "name": character.name, "description": description, "personality": character.personality,
        "mes_example": character.speech_pattern, "extensions": extensions,
    }  # fmt: skip
    # A field the card brought whole that the profile holds only the beginning of goes out whole, unless edited.
    for key, full in ((character.attributes or {}).get("card_overflow") or {}).items():
        if key in data and isinstance(full, str) and full.startswith(data[key]):
            data[key] = full
    return data


def to_json(character, version: int = 2) -> dict:
    data = card_data(character)
    if version == 3:
        data = {"nickname": "", "creator_notes_multilingual": {}, "source": [], "group_only_greetings": [],
                "assets": [], **data}  # fmt: skip
        return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}
    v2 = {k: v for k, v in data.items() if k not in ("nickname", "creator_notes_multilingual", "source",
                                                    "group_only_greetings", "assets", "creation_date",
                                                    "modification_date")}  # fmt: skip
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": v2}


def to_png(character, portrait: bytes | None) -> bytes:
    """The portrait (or a plain card with the initial when there is none) with the V2 card in `chara` and the
    V3 card in `ccv3`, as SillyTavern writes them."""
    if portrait:
        image = Image.open(io.BytesIO(portrait))
        image.load()
    else:
        image = Image.new("RGB", (400, 600), (70, 80, 100))
    info = PngImagePlugin.PngInfo()
    for keyword, version in (("chara", 2), ("ccv3", 3)):
        card = json.dumps(to_json(character, version), ensure_ascii=False).encode()
        info.add_text(keyword, base64.b64encode(card).decode("ascii"))
    out = io.BytesIO()
    image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "PNG", pnginfo=info)
    return out.getvalue()
