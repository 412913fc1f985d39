"""Story memory in pgvector: keeping it in step with what the writer wrote, and finding things in it.

Sync functions are idempotent and embed only text that changed (by content hash), so the RQ jobs that call them
(agents/tasks.py) may run twice or late without harm. Two syncs of one chapter (two autosaves, two workers) take
turns on a lock and each reads the newest text once it holds it, and a unique constraint keeps any text from being
stored twice.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchQuery
from django.db import connection, transaction

from agents.checks import voices
from agents.checks.text import sentences
from agents.models import MemoryItem, MemoryKind
from agents.services.embeddings import embed, embed_many, text_hash
from characters.models import Character, StoryCharacter
from stories.models import Chapter, Story, WorldEntry

PARAGRAPH_RE = re.compile(r"\S(?:.*?\S)?(?=[ \t]*\n\s*\n|\s*\Z)", re.S)
SENTENCE_END_RE = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+")


@dataclass
class Passage:
    text: str
    start: int
    end: int


def _split_long(text: str, start: int, max_words: int) -> list[Passage]:
    """A paragraph longer than max_words, cut at sentence ends (or mid-sentence if a sentence is longer)."""
    pieces, piece_start, words = [], 0, 0
    boundaries = [m.end() for m in SENTENCE_END_RE.finditer(text)] + [len(text)]
    last_cut = 0
    for boundary in boundaries:
        words = len(text[piece_start:boundary].split())
        if words > max_words and last_cut > piece_start:
            pieces.append((piece_start, last_cut))
            piece_start = last_cut
        last_cut = boundary
    pieces.append((piece_start, len(text)))
    result = []
    for a, b in pieces:
        chunk = text[a:b].strip()
        if chunk:
            offset = a + (len(text[a:b]) - len(text[a:b].lstrip()))
            result.append(Passage(chunk, start + offset, start + offset + len(chunk)))
    return result


def chunk_passages(text: str, max_words: int | None = None) -> list[Passage]:
    """Passages of about max_words words: whole paragraphs merged, long ones split at sentence ends.
    Offsets point into the original text so search results can open the editor at the passage."""
    max_words = max_words or settings.MEMORY_PASSAGE_WORDS
    passages: list[Passage] = []
    for match in PARAGRAPH_RE.finditer(text or ""):
        paragraph = Passage(match.group(), match.start(), match.end())
        if len(paragraph.text.split()) > max_words:
            passages.extend(_split_long(paragraph.text, paragraph.start, max_words))
            continue
        previous = passages[-1] if passages else None
        if previous and len(previous.text.split()) + len(paragraph.text.split()) <= max_words:
            passages[-1] = Passage(text[previous.start : paragraph.end], previous.start, paragraph.end)
        else:
            passages.append(paragraph)
    return passages


# pg_advisory_xact_lock(class, id) classes: one sync at a time per chapter, character, world entry.
LOCKS = {"chapter": 727_101, "character": 727_102, "world": 727_103}


def _lock(kind: str, pk: int):
    """Held until the surrounding transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCKS[kind], pk % 2**31])


def _replace_items(existing: dict, wanted: list[dict], **scope) -> dict:
    """Make the stored items in `existing` (by content hash) match `wanted`, embedding only new texts. Callers
    hold the scope's lock, so `existing` is current."""
    new = [w for w in wanted if w["content_hash"] not in existing]
    vectors = embed_many([w["text"] for w in new]) if new else []
    kept = {w["content_hash"] for w in wanted}
    with transaction.atomic():
        stale = [item.pk for digest, item in existing.items() if digest not in kept]
        MemoryItem.objects.filter(pk__in=stale).delete()
        for w in wanted:
            item = existing.get(w["content_hash"])
            if item is not None:
                changed = {k: v for k, v in w.items() if getattr(item, k) != v}
                if changed:
                    MemoryItem.objects.filter(pk=item.pk).update(**changed)
        MemoryItem.objects.bulk_create(
            [MemoryItem(**scope, **w, embedding=v) for w, v in zip(new, vectors, strict=True)],
            ignore_conflicts=True,  # belt and braces: the unique constraint, should a writer not hold the lock
        )
    return {"embedded": len(new), "kept": len(wanted) - len(new), "removed": len(stale)}


@transaction.atomic
def sync_chapter(chapter: Chapter) -> dict:
    """Re-chunk the chapter's newest text; unchanged passages keep their vectors, changed ones are re-embedded."""
    _lock("chapter", chapter.pk)
    chapter = Chapter.objects.select_related("story").filter(pk=chapter.pk).first()
    if chapter is None:
        return {"embedded": 0, "kept": 0, "removed": 0}
    wanted = [
        {
            "kind": MemoryKind.PASSAGE,
            "text": p.text,
            "content_hash": text_hash(p.text),
            "position": index,
            "start_offset": p.start,
            "end_offset": p.end,
            "metadata": {"chapter_title": chapter.title, "chapter_order": chapter.order},
        }
        for index, p in enumerate(chunk_passages(chapter.content))
    ]
    # Identical paragraphs within a chapter are one memory: keep the first place each appears.
    wanted = list({w["content_hash"]: w for w in reversed(wanted)}.values())[::-1]
    existing = {item.content_hash: item for item in chapter.memory_items.filter(kind=MemoryKind.PASSAGE)}
    return _replace_items(existing, wanted, owner_id=chapter.story.owner_id, story_id=chapter.story_id, chapter=chapter)


def character_texts(character: Character, member: StoryCharacter) -> list[dict]:
    parts = [
        ("Appearance", character.appearance),
        ("Personality", character.personality),
        ("Backstory", character.backstory),
        ("Goals", character.goals),
    ]
    description = f"{character.name} ({member.get_role_display().lower()}). " + " ".join(
        f"{label}: {value.strip()}" for label, value in parts if value.strip()
    )
    texts = [{"kind": MemoryKind.CHARACTER, "text": description}]
    if character.speech_pattern.strip():
        texts.append({"kind": MemoryKind.DIALOGUE, "text": f"How {character.name} speaks: {character.speech_pattern}"})
    return texts


PROFILE_PASSAGES = 8  # the first passages of their stories that name them
PROFILE_LINES = 3
PROFILE_MENTIONS = 3


def name_query(name: str) -> SearchQuery:
    """A character named in a passage: their full name, or their first name when the full name has more words."""
    query = SearchQuery(name, search_type="phrase", config="english")
    first = name.split()[0] if name.split() else ""
    if first != name and len(first) >= 3:
        query |= SearchQuery(first, search_type="phrase", config="english")
    return query


def story_evidence(character: Character) -> str:
    """A few lines the character speaks and what the chapters say of them, from the first passages of their
    stories that name them (as memory holds them), with their name taken out: what the story shows of who they
    are, beside what the profile says."""
    stories = list(StoryCharacter.objects.filter(character=character).values_list("story_id", flat=True))
    if not stories or not character.name.split():
        return ""
    first = character.name.split()[0]
    others = {n.split()[0] for n in Character.objects.filter(stories__in=stories).exclude(pk=character.pk)
              .values_list("name", flat=True) if n.split()}  # fmt: skip
    passages = (
        MemoryItem.objects.filter(story_id__in=stories, kind=MemoryKind.PASSAGE, chapter__isnull=False)
        .filter(search=name_query(character.name))
        .order_by("story_id", "chapter__order", "position")
        .values_list("text", flat=True)[:PROFILE_PASSAGES]
    )
    lines, mentions = [], []
    for text in passages:
        lines += voices.lines_by_speaker(text, [first, *others]).get(first, [])
        mentions += [s for _, s in sentences(text) if first in s and not any(q in s for q in '"“”')]
    unnamed = [w for w in (character.name, first) if w]

    def without_name(text: str) -> str:
        for word in unnamed:
            text = text.replace(word, "")
        return " ".join(text.split())

    parts = []
    if lines:
        parts.append("Says: " + " / ".join(without_name(line) for line in lines[:PROFILE_LINES]))
    if mentions:
        parts.append("In the story: " + " ".join(without_name(m) for m in mentions[:PROFILE_MENTIONS]))
    return " ".join(parts)


def sync_profile(character: Character) -> bool:
    """The character's profile embedding (who they are, for "characters like this one": the profile, a few of
    their lines and what the chapters say of them), made again only when that text changed. An empty profile has
    no embedding, but its hash marks it as read. True if it was embedded."""
    text = " ".join(part for part in (character.profile_text(), story_evidence(character)) if part)
    digest = text_hash(text)
    if digest == character.profile_hash:
        return False
    vector = embed(text) if text else None
    Character.objects.filter(pk=character.pk).update(profile_embedding=vector, profile_hash=digest)
    character.profile_embedding, character.profile_hash = vector, digest
    return vector is not None


@transaction.atomic
def sync_character(character: Character) -> dict:
    """The character's description and voice, in every story they appear in (and no longer in others)."""
    _lock("character", character.pk)
    character = Character.objects.filter(pk=character.pk).first() or character
    totals = {"embedded": 0, "kept": 0, "removed": 0}
    sync_profile(character)
    members = list(character.appearances.select_related("story"))
    MemoryItem.objects.filter(character=character).exclude(story_id__in=[m.story_id for m in members]).delete()
    for member in members:
        wanted = [
            {**t, "content_hash": text_hash(t["text"]), "metadata": {"role": member.role}}
            for t in character_texts(character, member)
        ]
        existing = {i.content_hash: i for i in MemoryItem.objects.filter(character=character, story=member.story)}
        result = _replace_items(
            existing, wanted, owner_id=character.owner_id, story_id=member.story_id, character=character
        )
        totals = {k: totals[k] + result[k] for k in totals}
    return totals


@transaction.atomic
def sync_world_entry(entry: WorldEntry) -> dict:
    _lock("world", entry.pk)
    entry = WorldEntry.objects.select_related("story").filter(pk=entry.pk).first()
    if entry is None:
        return {"embedded": 0, "kept": 0, "removed": 0}
    text = f"{entry.name} ({entry.get_kind_display().lower()}"
    text += f", {entry.time_period})" if entry.time_period else ")"
    text += f": {entry.description}" if entry.description else ""
    wanted = [
        {"kind": MemoryKind.WORLD, "text": text, "content_hash": text_hash(text), "metadata": {"kind": entry.kind}}
    ]
    existing = {i.content_hash: i for i in entry.memory_items.all()}
    return _replace_items(existing, wanted, owner_id=entry.story.owner_id, story_id=entry.story_id, world_entry=entry)


def sync_story(story: Story) -> dict:
    """Everything in one story (after an import, or to rebuild memory)."""
    results = [sync_chapter(c) for c in story.chapters.all()]
    results += [sync_world_entry(e) for e in story.world_entries.all()]
    results += [sync_character(m.character) for m in story.cast.select_related("character")]
    return {k: sum(r[k] for r in results) for k in ("embedded", "kept", "removed")}


def remember(story: Story, kind: str, text: str, *, chapter=None, character=None, metadata=None) -> MemoryItem:
    """Store one extracted fact (a plot point, a character state); the same text is stored once."""
    digest = text_hash(text)
    scope = {"story": story, "kind": kind, "content_hash": digest, "chapter": chapter, "character": character}
    item = MemoryItem.objects.filter(**scope, world_entry=None).first()
    if item:
        return item
    # get_or_create: if another job stores the same fact meanwhile, the unique constraint makes this one find it.
    item, _ = MemoryItem.objects.get_or_create(
        **scope,
        world_entry=None,
        defaults={"owner_id": story.owner_id, "text": text, "metadata": metadata or {}, "embedding": embed(text)},
    )
    return item


STYLE_EXCERPT_WORDS = 150


def remember_style(story: Story, source: str, text: str, rating: int) -> MemoryItem | None:
    """Keep the start of a generation the writer rated highly (4 or 5) as a style example for the story; a lower
    rating forgets it. `source` names the generation, so rating it again replaces its example."""
    MemoryItem.objects.filter(story=story, kind=MemoryKind.STYLE, metadata__source=source).delete()
    words = text.split()
    if rating < 4 or not words:
        return None
    excerpt = " ".join(words[:STYLE_EXCERPT_WORDS]) + (" …" if len(words) > STYLE_EXCERPT_WORDS else "")
    return remember(story, MemoryKind.STYLE, excerpt, metadata={"source": source, "rating": rating})


def search(user, query: str, *, story=None, kinds=(), k=10, hybrid=True) -> list[MemoryItem]:
    """The user's memory closest to the query, in one story (which the caller found through stories.access, so it
    may be one shared with them) or across all of their own (never anyone else's). Style examples are the writer's
    ratings, not the story: only found when asked for by kind."""
    if story is not None:
        items = MemoryItem.objects.for_story(story)
    else:
        items = MemoryItem.objects.for_user(user).filter(story__deleted_at__isnull=True, story__is_flagged=False)
    items = items.of_kind(*kinds) if kinds else items.exclude(kind=MemoryKind.STYLE)
    items = items.select_related("story", "chapter")
    vector = embed(query)
    return items.hybrid(query, vector, k) if hybrid else items.similar_to(vector, k)
