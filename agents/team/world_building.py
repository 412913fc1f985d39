"""World building agent: brings the relevant world entries to the writer (and names what the request mentions
that the world does not know yet), and spots what a draft introduces: new people, places, objects, factions,
events and lore, each classified and with a description drafted from the draft, for the writer to add to the
cast or the world (or not). A capable model classifies and drafts; with the built-in model the kinds come from how
the draft uses each name and the description is the draft's own sentences about it."""

import re
from collections import Counter

from pydantic import BaseModel, ValidationError

from agents.memory import store as memory
from agents.models import MemoryKind
from agents.services import llm
from agents.services.prompting import answer_json, render
from agents.team.base import AgentContext
from agents.team.messages import AgentMessage, Draft, StepResult, WorldContext, WorldNote, WorldProposal, WorldProposals
from stories.models import WorldEntry

MAX_ENTRIES = 8
MAX_PROPOSALS = 8
EXTRACT_WORDS = 2500  # the part of a draft a model reads for new names: bounded work on a long chapter
KINDS = ("character", "location", "item", "faction", "event", "lore")
FACTION_RE = re.compile(
    r"^(?:Order|Guild|House|Brotherhood|Sisterhood|Council|Company|Clan|League|Church|Court)\b|"
    r"\b(?:Order|Guild|Brotherhood|Sisterhood|Council|Company|Clan|League|Church|Court)$"
)
SCHEMA = {
    "type": "object",
    "properties": {
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS)},
                               "description": {"type": "string"}},
                "required": ["name", "kind", "description"],
            },
        }
    },
    "required": ["entities"],
}  # fmt: skip


class Entity(BaseModel):
    name: str
    kind: str
    description: str = ""


# Capitalised words and runs of them that do not start a sentence or a quotation: candidate proper nouns.
PROPER_NOUN_RE = re.compile(
    r"(?<![.!?…\"“]\s)(?<![\"“‘'])(?<!^)(?<!\n)\b([A-Z][a-z]{2,}(?:\s+(?:of\s+)?[A-Z][a-z]{2,})*)"
)
# What follows a person's name ("Tomas said", "Tomas's hands"): a person is proposed for the cast, not the world.
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
    query = message.payload.get("query") or ""
    missing = unknown_names(ctx, query)
    if len(entries) <= MAX_ENTRIES:
        why = f"all {len(entries)} world entries of the story" if entries else "the story has no world entries yet"
        return StepResult(WorldContext(entries=[note(e) for e in entries], why=why, missing=missing))
    # Like a lorebook: an entry whose key (or name) the request mentions comes in first, then the closest ones.
    lowered = query.lower()
    keyed = [e for e in entries if any(k.lower() in lowered for k in [e.name, *(e.metadata or {}).get("keys", [])]
                                       if len(k) > 2)][:MAX_ENTRIES] if query else []  # fmt: skip
    query = query or ctx.story.premise or ctx.story.title
    found = memory.search(ctx.story.owner, query, story=ctx.story, kinds=[MemoryKind.WORLD], k=MAX_ENTRIES)
    by_id = {e.pk: e for e in entries}
    closest = [by_id[item.world_entry_id] for item in found if item.world_entry_id in by_id]
    chosen = list(dict.fromkeys(keyed + closest))[:MAX_ENTRIES]
    why = f"the {len(chosen)} of {len(entries)} entries closest to: {query[:120]}"
    if keyed:
        why += f" ({len(keyed)} named by the request or one of their keys)"
    return StepResult(WorldContext(entries=[note(e) for e in chosen], why=why, missing=missing))


def known_spellings(ctx: AgentContext) -> list[str]:
    """The names of the story's world entries and cast, as the writer spells them."""
    world = WorldEntry.objects.filter(story=ctx.story).values_list("name", flat=True)
    return sorted({*world, *ctx.story.characters.values_list("name", flat=True)})


def new_name_test(spellings: list[str]):
    """A test for a name that neither the world nor the cast knows, even as one word of a known name ("Tomas" of
    "Tomas Reed"), and that is no common capitalised word."""
    known = {name.lower() for name in spellings}
    known_words = {word for name in known for word in name.split()}
    return lambda name: name not in COMMON and name.lower() not in known and name.lower() not in known_words


def unknown_names(ctx: AgentContext, text: str) -> list[str]:
    """Proper names in the request that neither the world nor the cast knows: the scene needs them described."""
    if not text:
        return []
    is_new = new_name_test(known_spellings(ctx))
    return list(dict.fromkeys(m.group(1) for m in PROPER_NOUN_RE.finditer(text) if is_new(m.group(1))))[:5]


def is_person(name: str, text: str) -> bool:
    """Anywhere in the draft (a sentence's start included), the name speaks, smiles or has a face or a brother."""
    uses = re.finditer(rf"\b{re.escape(name)}\b", text)
    return any(PERSON_AFTER_RE.match(text[use.end() : use.end() + 30]) for use in uses)


def guess_kind(name: str, text: str, as_place: int) -> str:
    if is_person(name, text):
        return "character"
    if FACTION_RE.search(name):
        return "faction"
    return WorldEntry.Kind.LOCATION if as_place else WorldEntry.Kind.LORE


def sentences_about(name: str, text: str, excerpt: str) -> str:
    """The draft's own words about a name: the sentences that mention it, at most two."""
    found = [s.strip() for s in re.split(r"(?<=[.!?…])\s+", text) if re.search(rf"\b{re.escape(name)}\b", s)]
    return " ".join(found[:2])[:400] or excerpt


def candidates(text: str, is_new) -> list[WorldProposal]:
    """Names the draft uses that are neither a world entry nor in the cast, most mentioned first, each with a
    kind guessed from how the draft uses it (speaks or smiles: a person; after "in", "at", "to": a place)."""
    counts, places, excerpts = Counter(), Counter(), {}
    for match in PROPER_NOUN_RE.finditer(text):
        name = match.group(1)
        if not is_new(name):
            continue
        counts[name] += 1
        if PLACE_BEFORE_RE.search(text[max(0, match.start() - 20) : match.start()]):
            places[name] += 1
        if name not in excerpts:
            start = max(text.rfind(".", 0, match.start()) + 1, match.start() - 160)
            end = text.find(".", match.end())
            excerpts[name] = text[start : end + 1 if end != -1 else match.end() + 80].strip()
    return [
        WorldProposal(
            name=name, kind=guess_kind(name, text, places[name]), mentions=count, excerpt=excerpts[name],
            description=sentences_about(name, text, excerpts[name]),
        )
        for name, count in counts.most_common(MAX_PROPOSALS * 2)
    ]  # fmt: skip


def drafted(ctx: AgentContext, text: str, spellings: list[str]) -> tuple[dict[str, Entity], llm.LLMResult | None]:
    """What a capable model makes of the draft's new names: kind and description, by name. Nothing (and no
    call) with the built-in model, which invents rather than reads; nothing when the call or its answer fails."""
    if not ctx.target.profile.judges:
        return {}, None
    passage = " ".join(text.split()[:EXTRACT_WORDS])
    prompt = render("world_extract", text=passage, known=spellings)
    try:
        result = llm.generate(
            [{"role": "user", "content": prompt}], story=ctx.story, temperature=0, max_tokens=700, schema=SCHEMA
        )
    except llm.LLMError:
        return {}, None
    entities, answer = {}, (answer_json(result.text) or {}).get("entities")
    for item in answer if isinstance(answer, list) else []:
        try:
            entity = Entity.model_validate(item)
        except ValidationError:
            continue
        if entity.kind in KINDS and re.search(rf"\b{re.escape(entity.name)}\b", passage):  # only what is there
            entities[entity.name] = entity
    return entities, result


def propose(ctx: AgentContext, message: AgentMessage) -> StepResult:
    """What the draft introduces, classified (character, location, item, faction, event, lore) with a drafted
    description, for the writer to add to the cast or the world."""
    text = message.context.get(message.payload["draft"], Draft()).text
    spellings = known_spellings(ctx)
    found = candidates(text, new_name_test(spellings))
    entities, result = drafted(ctx, text, spellings)
    proposals = []
    for proposal in found:
        entity = entities.pop(proposal.name, None)
        if entity:
            proposal = proposal.model_copy(
                update={"kind": entity.kind, "description": entity.description[:600], "drafted_by": result.model}
            )
        proposals.append(proposal)
    known = {name.lower() for name in spellings}
    for entity in entities.values():  # names the model found that are not capitalised runs (a lower-case "the Veil")
        if entity.name.lower() not in known:
            proposals.append(WorldProposal(name=entity.name, kind=entity.kind, description=entity.description[:600],
                                           drafted_by=result.model))  # fmt: skip
    proposals = proposals[:MAX_PROPOSALS]
    if result is None:
        return StepResult(WorldProposals(proposals=proposals))
    return StepResult(WorldProposals(proposals=proposals), result.model, result.prompt_tokens, result.completion_tokens)
