"""Eye and hair colour without a model: the appearance slips a reader notices first ("grey eyes" in the profile,
"her green eyes" in chapter twelve), found by reading colours next to "eyes" and "hair" and whose they are.

A colour is someone's when its sentence names exactly one person (a cast member, or a name the story uses as one),
or says whose outright ("Mara's green eyes"). Colours are compared by family, so "emerald" is green and "hazel" is
both green and brown; hair going grey or white is ageing, never a slip. A sentence that tells a change ("her eyes
turned silver", "dyed", "a wig") is left alone. Linear in the text.
"""

import re
from dataclasses import dataclass

from agents.checks.names import named_in
from agents.checks.text import sentences

EYE_COLOURS = {
    "blue": {"blue"}, "azure": {"blue"}, "sapphire": {"blue"}, "cornflower": {"blue"},
    "green": {"green"}, "emerald": {"green"}, "jade": {"green"},
    "grey": {"grey"}, "gray": {"grey"}, "silver": {"grey"}, "silvery": {"grey"}, "steel": {"grey", "blue"},
    "brown": {"brown"}, "hazel": {"brown", "green"}, "amber": {"brown"}, "chestnut": {"brown"},
    "chocolate": {"brown"}, "honey": {"brown"}, "dark": {"brown", "black"}, "black": {"black", "brown"},
    "violet": {"violet"}, "golden": {"gold"}, "gold": {"gold"},
}  # fmt: skip
HAIR_COLOURS = {
    "blond": {"blond"}, "blonde": {"blond"}, "fair": {"blond"}, "flaxen": {"blond"}, "golden": {"blond"},
    "yellow": {"blond"}, "platinum": {"blond"},
    "red": {"red"}, "ginger": {"red"}, "auburn": {"red", "brown"}, "copper": {"red"}, "russet": {"red"},
    "brown": {"brown"}, "chestnut": {"brown", "red"}, "mousy": {"brown", "blond"}, "brunette": {"brown"},
    "black": {"black"}, "raven": {"black"}, "jet": {"black"}, "ebony": {"black"}, "dark": {"black", "brown"},
}  # fmt: skip
AGEING = {"grey", "gray", "white", "silver", "silvery", "salt-and-pepper"}  # hair: compatible with every colour
COLOUR = "|".join(sorted({*EYE_COLOURS, *HAIR_COLOURS, *AGEING}, key=len, reverse=True))
# "grey eyes", "dark blue eyes" (the colour nearest the feature counts), "fair-haired", "her eyes were grey"; not
# "her eyes were dark with anger" (a mood, not a colour).
FEATURE = re.compile(
    rf"\b(?P<colour>{COLOUR})(?:,?[- ](?:(?P<nearer>{COLOUR})|\w+))?[- ](?P<feature>eyes|eyed|hair|haired)\b"
    rf"|\b(?P<feature2>eyes|hair)\s+(?:was|were|is|are)\s+(?:a\s+)?(?:\w+\s+)?(?P<colour2>{COLOUR})\b(?!\s+with\b)",
    re.IGNORECASE,
)
# A told change, a disguise or a passing look: not the character's colour.
CHANGE = re.compile(
    r"\b(turn(?:ed|s|ing)?|became|become|becoming|chang\w*|fad\w*|dye[ds]?|dyed|wig|lens(?:es)?|contacts|disguis\w*|"
    r"illusion|glamou?r|glow\w*|flash\w*|gone|went|grew|now|reflect\w*|seemed|appeared|wore)\b",
    re.IGNORECASE,
)
POSSESSIVE = re.compile(r"\b(?P<name>[A-Z][\w-]*)[’']s\s+(?:\w+[, ]+){0,2}$")
# The colour is the named person's when a possessive or "had" comes just before it ("her green eyes", "had grey
# eyes", "Mara, grey-eyed"), not someone else's in the same sentence ("the boy with brown hair").
OWNED = re.compile(r"(?:\b(?i:her|his|had|has|have|with her|with his)\s+|[A-Z][\w-]*,\s+)(?:\w+[, ]+){0,2}$")


@dataclass
class Mention:
    person: str
    feature: str  # "eyes" or "hair"
    colour: str
    families: frozenset
    offset: int  # of the colour phrase in its text
    length: int
    sentence: str


def _families(feature: str, colour: str) -> frozenset:
    colour = colour.lower()
    if feature == "hair":
        return frozenset({"ageing"}) if colour in AGEING else frozenset(HAIR_COLOURS.get(colour, ()))
    return frozenset(EYE_COLOURS.get(colour, ()))


def mentions(text: str, people: dict[str, str], owner: str = "") -> list[Mention]:
    """Colours of eyes and hair in `text` and whose they are; `people` (names.person_words()) maps each way of
    naming someone (a full name, a first name, a surname) to the person's name. Every colour in a profile
    (`owner`) is its character's."""
    found = []
    for start, sentence in sentences(text):
        matches = list(FEATURE.finditer(sentence))
        if not matches or CHANGE.search(sentence):
            continue
        named = {person for person, _, _ in named_in(sentence, people)}
        for match in matches:
            feature = (match.group("feature") or match.group("feature2")).lower()
            feature = "eyes" if feature.startswith("eye") else "hair"
            colour = match.group("nearer") or match.group("colour") or match.group("colour2")
            families = _families(feature, colour)
            if not families:
                continue
            before = sentence[: match.start()]
            possessive = POSSESSIVE.search(before)
            if owner:
                person = owner
            elif possessive and possessive.group("name") in people:
                person = people[possessive.group("name")]
            elif len(named) == 1 and OWNED.search(before):
                person = next(iter(named))
            else:
                continue
            found.append(
                Mention(person, feature, colour.lower(), families, start + match.start(), len(match.group()), sentence)
            )
    return found


def conflicts(a: Mention, b: Mention) -> bool:
    if a.person != b.person or a.feature != b.feature:
        return False
    if "ageing" in a.families or "ageing" in b.families:
        return False
    return not a.families & b.families


@dataclass
class Slip:
    new: Mention  # in the checked text
    established: Mention
    source: int  # where the established colour is: 0 the checked text, 1.. the earlier texts in the order given


def slips(text: str, earlier: list[str], profiles: dict[str, str], people: dict[str, str]) -> list[Slip]:
    """Colours in `text` that differ from the one established for that person and feature: their profile's
    (`profiles`: name -> appearance), else the first in the earlier texts (in story order), else the first earlier
    in `text`. One slip per person, feature and colour. `people`: names.person_words()."""
    established: dict[tuple[str, str], tuple[Mention, int]] = {}
    for name, appearance in profiles.items():
        for mention in mentions(appearance, people, owner=name):
            established.setdefault((mention.person, mention.feature), (mention, -1))
    for source, earlier_text in enumerate(earlier, 1):
        for mention in mentions(earlier_text, people):
            established.setdefault((mention.person, mention.feature), (mention, source))
    found, seen = [], set()
    for mention in mentions(text, people):
        key = (mention.person, mention.feature)
        first, source = established.setdefault(key, (mention, 0))
        if conflicts(mention, first) and (*key, mention.colour) not in seen:
            seen.add((*key, mention.colour))
            found.append(Slip(mention, first, source))
    return found
