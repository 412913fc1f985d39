"""Character consistency and plot holes: does new text contradict what the story has already established?

Similarity alone cannot tell. "Her green eyes" and "her blue eyes" are almost the same sentence to an embedding
model, so whole-description cosine scores near chance on contradictions. Here embeddings only decide what is worth
comparing: each sentence of the new text about a cast member (naming them, or going on with he or she right
after) is paired with that character's profile, field by field, and with earlier sentences that name them; and
every sentence is paired with earlier passages and plot points it shares a key word with. The closest pairs go to
an LLM judge, which lists the facts both sides state, attribute by attribute, and says which contradict. The
cosine stays in each finding as a signal.
"""

import re
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from agents.checks.text import sentences
from agents.models import MemoryItem, MemoryKind
from agents.services import embeddings, llm
from agents.services.prompting import answer_json, render
from agents.team.messages import Earlier, Finding, fingerprint

WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’-]+")
# Singular pronouns only: "they" after a name is as often a group as one person.
PRONOUN_RE = re.compile(r"\b(he|she|him|her|his|hers)\b", re.I)
# Words too common to say two sentences are about the same thing.
STOPWORDS = frozenset(
    "about above after again against along among another around because been before behind being below beneath "  # noqa: SIM905
    "between beyond could didn't doesn't during every first found would should their there these those through "
    "under until where which while whose without within other again still never always little great thing things "
    "something nothing everything anything someone everyone people morning evening night today tomorrow "
    "yesterday years again stood looked turned asked said though thought knew heard began seemed moment "
    "himself herself itself myself yourself themselves".split()
)
PROFILE_FIELDS = (
    ("appearance", "appearance"),
    ("personality", "personality"),
    ("backstory", "backstory"),
    ("speech_pattern", "voice"),
    ("goals", "goals"),
)


@dataclass
class Statement:
    """Something the story already established, and where."""

    text: str
    source: str  # "Mara's profile: appearance" or "Chapter 1 “The Mill”"
    chapter_id: int | None = None
    vector: np.ndarray | None = field(default=None, repr=False)
    character_id: int | None = None  # a profile statement: whose


@dataclass
class Pair:
    check: str  # "character_consistency" or "continuity"
    subject: str
    earlier: Statement
    new: str
    offset: int
    similarity: float


def key_words(text: str) -> set[str]:
    return {w.lower().strip("'’") for w in WORD_RE.findall(text) if len(w) >= 5} - STOPWORDS


def names_in(text: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text, re.I) is not None


def referring_to(name: str, sentences: list[str], cast_names: list[str]) -> list[int]:
    """Indexes of the sentences about this character: those naming them, and the sentence right after one that
    names only them when it goes on with he or she ("Mara looked up. Her eyes were blue.")."""
    others = [other for other in cast_names if other != name]
    found = []
    for i, sentence in enumerate(sentences):
        if names_in(sentence, name):
            found.append(i)
            continue
        previous = sentences[i - 1] if i else ""
        if (
            names_in(previous, name)
            and PRONOUN_RE.search(sentence)
            and not any(names_in(previous, o) or names_in(sentence, o) for o in others)
        ):
            found.append(i)
    return found


# -- what the story already established ------------------------------------------------------------------------


def earlier_items(story, chapter=None, include_chapter=False):
    """Passages and plot points of the chapters before this one (and of this one when the new text is added to
    it), plus world entries. A chapter is never compared with a later one."""
    items = MemoryItem.objects.filter(
        story=story, kind__in=(MemoryKind.PASSAGE, MemoryKind.PLOT_POINT, MemoryKind.WORLD)
    ).select_related("chapter")
    if chapter is not None and chapter.pk:
        before = {"chapter__order__lte": chapter.order} if include_chapter else {"chapter__order__lt": chapter.order}
        items = items.filter(chapter__isnull=True) | items.filter(**before)
    return list(items)


def chapter_source(chapter) -> str:
    """How a finding names the chapter it cites: Chapter 1 “The Mill”."""
    return f"Chapter {chapter.order} “{chapter.title}”"


def statement_from_item(item: MemoryItem) -> Statement:
    source = chapter_source(item.chapter) if item.chapter_id else "World notes"
    return Statement(item.text, source, item.chapter_id, np.asarray(item.embedding, dtype=np.float32))


def profile_statements(character) -> list[Statement]:
    statements = [
        Statement(value.strip(), f"{character.name}'s profile: {label}", character_id=character.pk)
        for attr, label in PROFILE_FIELDS
        if (value := getattr(character, attr, "")).strip()
    ]
    statements += [
        Statement(f"{key}: {value}", f"{character.name}'s profile: {key}", character_id=character.pk)
        for key, value in (character.attributes or {}).items()
        if isinstance(value, str | int | float) and str(value).strip()
    ]
    vectors = embeddings.embed_many([f"{character.name}. {s.text}" for s in statements]) if statements else []
    for statement, vector in zip(statements, vectors, strict=True):
        statement.vector = vector
    return statements


# -- pairing new sentences with what they might contradict -----------------------------------------------------


def closest(vector: np.ndarray, statements: list[Statement], k: int) -> list[Statement]:
    return sorted(statements, key=lambda st: -float(vector @ st.vector))[:k]


def focused(statements: list[Statement], keep) -> list[Statement]:
    """The sentences of retrieved passages that speak of the subject, each embedded on its own: a passage's
    vector is diluted by everything else in it, a single sentence compares like with like."""
    parts = [
        Statement(sentence, st.source, st.chapter_id)
        for st in statements
        for _, sentence in sentences(st.text)
        if keep(sentence)
    ]
    unique = list({p.text: p for p in parts}.values())
    for part, vector in zip(unique, embeddings.embed_many([p.text for p in unique]) if unique else [], strict=True):
        part.vector = vector
    return unique


# A sentence is compared with at most this many sentences before it in the same text: linear in a long chapter.
WITHIN_WINDOW = 200


def candidate_pairs(story, text: str, chapter=None, include_chapter=False, limit=None, within=False) -> list[Pair]:
    """The pairs worth a judge's time, closest first, at most `limit` (QA_MAX_JUDGEMENTS by default). With
    `within`, sentences of the text are also paired with sentences before them in the same text (the writer's
    chapter can contradict itself)."""
    new = sentences(text)
    if not new:
        return []
    vectors = embeddings.embed_many([s for _, s in new])
    history = [statement_from_item(i) for i in earlier_items(story, chapter, include_chapter)]
    minimum, depth = settings.QA_RELATED_MIN_SIMILARITY, settings.QA_PASSAGES_PER_SENTENCE
    best: dict[tuple, Pair] = {}

    def consider(check, subject, statements, i, vector):
        offset, sentence = new[i]
        for statement in statements:
            similarity = float(vector @ statement.vector)
            # One judgement per earlier statement: the new sentence closest to it.
            key = (check, subject, statement.text)
            if similarity >= minimum and (key not in best or similarity > best[key].similarity):
                best[key] = Pair(check, subject, statement, sentence, offset, similarity)

    cast = [member.character for member in story.cast.select_related("character")]
    cast_names = [c.name for c in cast]
    for character in cast:
        mentions = referring_to(character.name, [s for _, s in new], cast_names)
        if not mentions:
            continue
        profile = profile_statements(character)
        about = [st for st in history if names_in(st.text, character.name)]
        # A sentence that only says "she" is embedded with the name, like the profile it is compared with.
        implicit = [i for i in mentions if not names_in(new[i][1], character.name)]
        named = embeddings.embed_many([f"{character.name}. {new[i][1]}" for i in implicit]) if implicit else []
        own_vectors = dict(zip(implicit, named, strict=True))
        for i in mentions:
            vector = own_vectors.get(i, vectors[i])
            retrieved = focused(closest(vector, about, depth), lambda s, n=character.name: names_in(s, n))
            consider("character_consistency", character.name, profile + retrieved, i, vector)

    if within:
        source = "An earlier sentence of this chapter"
        chapter_id = chapter.pk if chapter is not None else None
        matrix = np.stack(vectors)
        for i in range(1, len(new)):
            words, start = key_words(new[i][1]), max(0, i - WITHIN_WINDOW)
            similarities = matrix[start:i] @ vectors[i]
            for j in np.argsort(-similarities)[:depth]:
                shared = words & key_words(new[start + j][1])
                if shared and similarities[j] >= minimum:
                    earlier = Statement(new[start + j][1], source, chapter_id, vectors[start + j])
                    consider("continuity", max(shared, key=len), [earlier], i, vectors[i])

    for i, (_, sentence) in enumerate(new):
        words = key_words(sentence)
        if not words:
            continue
        related = [st for st in history if words & key_words(st.text)]
        for statement in focused(closest(vectors[i], related, depth), lambda s, w=words: bool(w & key_words(s))):
            subject = max(words & key_words(statement.text), key=len)
            consider("continuity", subject, [statement], i, vectors[i])

    ranked = sorted(best.values(), key=lambda p: (p.check != "character_consistency", -p.similarity))
    return ranked[: settings.QA_MAX_JUDGEMENTS if limit is None else limit]


# -- the judge -----------------------------------------------------------------------------------------------


def parse_judgement(text: str) -> list[dict] | None:
    """The judge's comparisons, or None when the answer was not the JSON asked for."""
    comparisons = (answer_json(text) or {}).get("comparisons")
    if not isinstance(comparisons, list):
        return None
    parsed = []
    for c in comparisons:
        if not isinstance(c, dict):
            continue
        flag = c.get("contradiction")
        contradiction = flag is True or (isinstance(flag, str) and flag.strip().lower() in ("true", "yes"))
        parsed.append(
            {
                "attribute": str(c.get("attribute", ""))[:80],
                "earlier": str(c.get("earlier", ""))[:300],
                "new": str(c.get("new", ""))[:300],
                "contradiction": contradiction,
            }
        )
    return parsed


def grounded(fact: str, text: str) -> bool:
    """Does the text really say this? Three in four of the fact's words must appear in it ("blue eyes" is not
    in "her green eyes")."""
    words = {w.lower() for w in WORD_RE.findall(fact) if len(w) >= 3} or {fact.strip().lower()}
    present = {w for w in words if w in text.lower()}
    return bool(fact.strip()) and len(present) * 4 >= len(words) * 3


def judge(subject: str, earlier: Statement, new: str, *, story=None, cache=None) -> list[dict] | None:
    """The judge's comparisons for one pair. A contradiction only counts when both facts it quotes are really in
    the two texts and differ: small models otherwise echo the prompt's example or invent a fact."""
    # One line each: a passage's paragraph breaks mean nothing here.
    flat, new = " ".join(earlier.text.split()), " ".join(new.split())
    prompt = render("consistency_judge", subject=subject, source=earlier.source, earlier=flat, new=new)
    result = llm.generate(
        [{"role": "user", "content": prompt}],
        story=story,
        temperature=0,
        max_tokens=settings.QA_JUDGE_MAX_TOKENS,
        cache=cache,
    )
    comparisons = parse_judgement(result.text)
    for c in comparisons or []:
        c["grounded"] = (
            grounded(c["earlier"], flat)
            and grounded(c["new"], new)
            and c["earlier"].strip().lower() != c["new"].strip().lower()
        )
        c["contradiction"] = c["contradiction"] and c["grounded"]
    return comparisons


BATCH_SCHEMA = {
    "type": "object",
    "properties": {
        "contradictions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "pair": {"type": "integer"},
                    "attribute": {"type": "string"},
                    "earlier": {"type": "string"},
                    "new": {"type": "string"},
                },
                "required": ["pair", "attribute", "earlier", "new"],
            },
        }
    },
    "required": ["contradictions"],
}


def judge_batch(pairs: list[Pair], *, story=None) -> dict[int, list[dict]] | None:
    """One judge call for several pairs: the confirmed contradictions by pair index, or None when the answer was
    not the JSON asked for. As with one pair, both quoted facts must really be in their texts and differ."""
    flat = [(" ".join(p.earlier.text.split()), " ".join(p.new.split())) for p in pairs]
    shown = [
        {"subject": p.subject, "source": p.earlier.source, "earlier": earlier, "new": new}
        for p, (earlier, new) in zip(pairs, flat, strict=True)
    ]
    result = llm.generate(
        [{"role": "user", "content": render("consistency_batch", pairs=shown)}],
        story=story,
        temperature=0,
        max_tokens=settings.QA_JUDGE_MAX_TOKENS * 2,
        schema=BATCH_SCHEMA,
    )
    found = (answer_json(result.text) or {}).get("contradictions")
    if not isinstance(found, list):
        return None
    confirmed: dict[int, list[dict]] = {}
    for c in found:
        if not isinstance(c, dict) or not str(c.get("pair", "")).strip().isdigit():
            continue
        index = int(str(c["pair"]).strip()) - 1
        if not 0 <= index < len(pairs):
            continue
        said = {"attribute": str(c.get("attribute", ""))[:80], "earlier": str(c.get("earlier", ""))[:300],
                "new": str(c.get("new", ""))[:300], "contradiction": True}  # fmt: skip
        earlier, new = flat[index]
        if (
            grounded(said["earlier"], earlier)
            and grounded(said["new"], new)
            and said["earlier"].strip().lower() != said["new"].strip().lower()
        ):
            confirmed.setdefault(index, []).append(said)
    return confirmed


def judged_in_calls(pairs: list[Pair], batch: int, story):
    """(pair, comparisons or None) for every pair: one call per pair, or `batch` pairs a call."""
    if batch <= 1:
        for pair in pairs:
            yield pair, judge(pair.subject, pair.earlier, pair.new, story=story)
        return
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        confirmed = judge_batch(chunk, story=story)
        for index, pair in enumerate(chunk):
            yield pair, None if confirmed is None else confirmed.get(index, [])


def not_judged(reason: str) -> tuple[list, dict]:
    """What contradictions() gives when the judge is not asked at all (`reason` says why)."""
    return [], {"judged": [], "skipped": reason}


def cannot_judge(profile) -> tuple[list, dict]:
    """not_judged() for a model whose profile says it cannot judge (agents/services/capabilities.py)."""
    return not_judged(f"{profile.who} cannot judge facts and characters")


def contradictions(
    story,
    text: str,
    chapter=None,
    include_chapter=False,
    ignored=frozenset(),
    *,
    limit=None,
    progress=None,
    base=0,
    batch=1,
    within=False,
    said_by="the draft",
) -> tuple[list, dict]:
    """Findings for every contradiction the judge confirms, each citing the earlier statement and where it is.
    At most `limit` judge calls (QA_MAX_JUDGEMENTS by default), each judging `batch` pairs; `progress(done,
    total)` as it goes; offsets are shifted by `base` (where the text starts in its chapter)."""
    findings, judged, unanswered = [], [], 0
    calls = settings.QA_MAX_JUDGEMENTS if limit is None else limit
    pairs = candidate_pairs(story, text, chapter, include_chapter, calls * max(batch, 1), within=within)
    judgements = judged_in_calls(pairs, batch, story)
    for number in range(1, len(pairs) + 1):
        if progress:
            progress(number - 1, len(pairs))
        try:
            pair, comparisons = next(judgements)
        except llm.LLMError as exc:
            # The draft is written already: a judge that cannot be reached must not cost the writer the draft.
            note = f"Consistency was not checked: the model did not answer ({exc})."
            return findings + [Finding(check="consistency", severity="info", message=note)], {
                "judged": judged, "unanswered": unanswered + 1, "error": str(exc),
            }  # fmt: skip
        judged.append({"subject": pair.subject, "source": pair.earlier.source, "similarity": round(pair.similarity, 3)})
        if comparisons is None:
            unanswered += 1
            continue
        for c in comparisons:
            if not c["contradiction"]:
                continue
            key = fingerprint(pair.check, pair.subject, c["attribute"], pair.earlier.text)
            if key in ignored:
                continue
            what = f" ({c['attribute']})" if c["attribute"] else ""
            findings.append(
                Finding(
                    check=pair.check,
                    severity=settings.QA_CONTRADICTION_SEVERITY,
                    message=(
                        f"{pair.subject}{what}: {pair.earlier.source} says “{c['earlier'] or pair.earlier.text}”, "
                        f"{said_by} says “{c['new'] or pair.new}”."
                    ),
                    evidence=pair.new,
                    offset=base + pair.offset,
                    earlier=Earlier(
                        text=pair.earlier.text,
                        source=pair.earlier.source,
                        chapter=pair.earlier.chapter_id,
                        character=pair.earlier.character_id,
                    ),
                    similarity=round(pair.similarity, 3),
                    fingerprint=key,
                )
            )
    return findings, {"judged": judged, "unanswered": unanswered, "calls": -(-len(judged) // max(batch, 1))}
