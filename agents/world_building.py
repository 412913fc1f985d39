"""World building agent: brings the relevant world entries to the writer, and spots new places and things a
draft introduces so the writer can add them to the world (or not)."""

import re
from collections import Counter

from stories.models import WorldEntry

from . import memory
from .base import AgentContext
from .messages import AgentMessage, Draft, StepResult, WorldContext, WorldNote, WorldProposal, WorldProposals
from .models import MemoryKind

MAX_ENTRIES = 8
# Capitalised words and runs of them that do not start a sentence or a quotation: candidate proper nouns.
PROPER_NOUN_RE = re.compile(
    r"(?<![.!?…\"“]\s)(?<![\"“‘'])(?<!^)(?<!\n)\b([A-Z][a-z]{2,}(?:\s+(?:of\s+)?[A-Z][a-z]{2,})*)"
)
# What follows a person's name ("Tomas said", "Tomas's hands"): people belong in the cast, not the world notes.
PERSON_AFTER_RE = re.compile(
    r"^(?:\s+(?:said|asked|replied|answered|whispered|shouted|cried|murmured|laughed|smiled|grinned|frowned|nodded|"
    r"sighed|shrugged|wept|called)\b|['’]s\s+(?:eyes|hands?|face|voice|hair|mother|father|brother|sister|wife|husband|"
    r"son|daughter|friend)\b)"
)
PLACE_BEFORE_RE = re.compile(r"\b(?:in|at|to|from|near|into|toward|towards|across|beyond|through)\s+(?:the\s+)?$")
COMMON = {
    "The", "She", "Her", "His", "They", "Then", "When", "But", "And", "There", "This", "That", "What", "Why", "How",
    "Mr", "Mrs", "Miss", "Sir", "Lady", "Lord", "God", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday", "Sunday", "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December", "Chapter",
}  # fmt: skip


def note(entry: WorldEntry) -> WorldNote:
    return WorldNote(id=entry.pk, name=entry.name, kind=entry.get_kind_display(), description=entry.description)


def retrieve(ctx: AgentContext, message: AgentMessage) -> StepResult:
    entries = list(WorldEntry.objects.filter(story=ctx.story))
    if len(entries) <= MAX_ENTRIES:
        why = f"all {len(entries)} world entries of the story" if entries else "the story has no world entries yet"
        return StepResult(WorldContext(entries=[note(e) for e in entries], why=why))
    query = message.payload.get("query") or ctx.story.premise or ctx.story.title
    found = memory.search(ctx.story.owner, query, story=ctx.story, kinds=[MemoryKind.WORLD], k=MAX_ENTRIES)
    by_id = {e.pk: e for e in entries}
    chosen = [by_id[item.world_entry_id] for item in found if item.world_entry_id in by_id]
    why = f"the {len(chosen)} of {len(entries)} entries closest to: {query[:120]}"
    return StepResult(WorldContext(entries=[note(e) for e in chosen], why=why))


def is_person(name: str, text: str) -> bool:
    """Anywhere in the draft (a sentence's start included), the name speaks, smiles or has a face or a brother."""
    uses = re.finditer(rf"\b{re.escape(name)}\b", text)
    return any(PERSON_AFTER_RE.match(text[use.end() : use.end() + 30]) for use in uses)


def propose(ctx: AgentContext, message: AgentMessage) -> StepResult:
    """Names the draft uses that are neither a world entry nor a character: offered to the writer as new entries.
    A name the draft treats as a person (speaking, smiling, with a face or a brother) is not offered."""
    text = message.context.get(message.payload["draft"], Draft()).text
    known = {name.lower() for name in WorldEntry.objects.filter(story=ctx.story).values_list("name", flat=True)}
    known |= {name.lower() for name in ctx.story.characters.values_list("name", flat=True)}
    known_words = {word for name in known for word in name.split()}
    counts, places, excerpts = Counter(), Counter(), {}
    for match in PROPER_NOUN_RE.finditer(text):
        name = match.group(1)
        if name in COMMON or name.lower() in known or name.lower() in known_words:
            continue
        counts[name] += 1
        if PLACE_BEFORE_RE.search(text[max(0, match.start() - 20) : match.start()]):
            places[name] += 1
        if name not in excerpts:
            start = max(text.rfind(".", 0, match.start()) + 1, match.start() - 160)
            end = text.find(".", match.end())
            excerpts[name] = text[start : end + 1 if end != -1 else match.end() + 80].strip()
    people = {name for name, _ in counts.most_common(50) if is_person(name, text)}
    proposals = [
        WorldProposal(
            name=name,
            kind=WorldEntry.Kind.LOCATION if places[name] else WorldEntry.Kind.LORE,
            mentions=count,
            excerpt=excerpts[name],
        )
        for name, count in counts.most_common()
        if name not in people
    ][:5]
    return StepResult(WorldProposals(proposals=proposals))
