"""Character Cards (V1, V2 and V3, as SillyTavern and chub.ai use them) in and out: JSON, or a PNG whose `chara`
(V2) and `ccv3` (V3) text chunks hold the card, base64-encoded, with the picture as the portrait.

A card's fields map onto the profile (description to backstory, personality, example dialogue to the voice);
everything else it carries (greetings, scenario, tags, the embedded lorebook, extensions) is kept in the
character's attributes, so exporting an imported card gives an equivalent card. The profile's appearance and
goals travel in the card's extensions, and appearance also leads the description other tools read.
"""

import base64
import binascii
import io
import json
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, PngImagePlugin, UnidentifiedImageError

MAX_BYTES = 20 * 1024 * 1024
# Card fields that map onto the profile; the rest of `data` is kept as it came.
MAPPED = {"name", "description", "personality", "mes_example"}
EXTENSION = "storyassistant"
LIMITS = {"name": 200, "appearance": 10000, "personality": 10000, "backstory": 20000, "speech_pattern": 5000,
          "goals": 5000}  # fmt: skip


class CardError(ValueError):
    """Not a character card this app can read; the message says why. Nothing was saved."""


@dataclass
class Card:
    fields: dict  # Character fields: name, appearance, personality, backstory, speech_pattern, goals
    kept: dict  # the card's other data fields, as they came
    spec: str  # chara_card_v1, chara_card_v2 or chara_card_v3
    image: bytes | None = None  # the PNG the card came in: the portrait


def read(data: bytes) -> Card:
    if len(data) > MAX_BYTES:
        raise CardError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return from_png(data)
    try:
        card = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CardError("The file is neither a character card's JSON nor a PNG with a card in it.") from exc
    return from_json(card)


def from_png(data: bytes) -> Card:
    unreadable = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)
    try:
        image = Image.open(io.BytesIO(data))
    except unreadable as exc:
        raise CardError("The PNG is damaged: it could not be read.") from exc
    with image:
        # Reading the text chunks decodes the pixels: bound them first, as every picture is bounded.
        if image.width * image.height > settings.PICTURE_MAX_PIXELS:
            raise CardError(
                f"The card's picture is {image.width:,} × {image.height:,} pixels; the limit is "
                f"{settings.PICTURE_MAX_PIXELS / 1e6:.0f} megapixels."
            )
        try:
            chunks = dict(image.text) if hasattr(image, "text") else {}
        except unreadable as exc:
            raise CardError("The PNG is damaged: it could not be read.") from exc
    encoded = chunks.get("ccv3") or chunks.get("chara")  # V3 first: it carries more
    if not encoded:
        raise CardError("This PNG has no character card in it (no chara or ccv3 text chunk).")
    try:
        card = json.loads(base64.b64decode(encoded, validate=False).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CardError("The character card in this PNG is damaged.") from exc
    result = from_json(card)
    result.image = data
    return result


def text(value, limit: int) -> str:
    return str(value if value is not None else "").replace("\x00", "")[:limit]


def from_json(card) -> Card:
    if not isinstance(card, dict):
        raise CardError("The file is not a character card.")
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
    return Card(fields=fields, kept=kept, spec=spec)


def card_data(character) -> dict:
    """The `data` of a V2/V3 card for the character."""
    kept = dict((character.attributes or {}).get("card") or {})
    description = "\n\n".join(p for p in (character.appearance, character.backstory) if p.strip())
    extensions = dict(kept.get("extensions") or {})
    if character.appearance.strip() or character.goals.strip():  # else the description is the backstory
        extensions[EXTENSION] = {k: getattr(character, k) for k in ("appearance", "goals", "backstory")}
    return {
        "scenario": "", "first_mes": "", "creator_notes": "", "system_prompt": "", "post_history_instructions": "",
        "alternate_greetings": [], "tags": [], "creator": "", "character_version": "",
        **kept,
        "name": character.name, "description": description, "personality": character.personality,
        "mes_example": character.speech_pattern, "extensions": extensions,
    }  # fmt: skip


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
