"""The dead acting, without a model: a character the story has killed ("Old Bram died in the fire") who later
speaks or acts in the narrative ("Old Bram said, shuffling into the kitchen"), with no return told.

Only the narrative counts: what characters say inside quotation marks may be rumour or a lie. A death is told
plainly (not "nearly died", "if he died", "feared dead"); an act is the person's name followed by a verb of doing
or speaking in the simple past. A sentence that remembers (a memory, a dream, a ghost, years ago, a letter) is no
act, a passage that goes back in time ("ten years earlier") is skipped from there on, and a told return ("Bram
was alive", "survived") brings the character back. Linear in the text.
"""

import re
from dataclasses import dataclass

from agents.checks.names import named_in
from agents.checks.text import sentences

# Told in the past or the present tense ("Bram died", "Bram dies", "Bram was found dead").
DYING = r"(?:died|dies|drowned|drowns|perished|perishes|passed\s+away|passes\s+away)(?!\s+a\s+little)"
DEATH_AFTER = re.compile(
    rf"^\s+(?:had\s+|has\s+)?(?:{DYING}|(?:was|is)\s+(?:killed|murdered|slain|executed|hanged|buried|found\s+dead)|"
    r"(?:is|was|lay|lies)\s+dead)\b"
)
# Told after what happened first, in the same clause: "Bram was struck by a beam and died", "Bram slipped, hit his
# head and died", "Hale, struck by a musket ball, died", "Hale was shot and killed". The words between name no one
# else (no capital letters), so "Hale fought, and the bosun died" is the bosun's death, not Hale's.
DEATH_LATER = re.compile(
    rf"^(?P<between>(?:\s*,?\s+[a-z][\w’'-]*){{1,14}}?)(?:\s+and(?:\s+then)?|\s+then|\s*,)\s+(?:had\s+)?"
    rf"(?:{DYING}|(?P<passive_end>killed|slain|murdered))\b"
)
PASSIVE = re.compile(r"^\s*,?\s+(?:was|were)\b")
DEATH_BEFORE = re.compile(
    r"\b(?:killed|kills|murdered|murders|slew|slays|executed|executes|buried|buries|mourned|mourns)\s+$"
    r"|\bthe\s+late\s+$",
    re.IGNORECASE,
)
DEATH_OWNED = re.compile(r"^[’']s\s+(?:death|funeral|grave|corpse|body)\b")
# A death that is not told as one, or only reported ("Wenna said Bram died").
NOT_TOLD = re.compile(
    r"\b(?:not|never|nearly|almost|would|could|might|may|must|if|should|thought|feared|pretended|faked|rumou?r\w*|"
    r"believed|presumed|supposedly|as\s+if|said|says|told|tells|claimed|claims|heard|hears|reported|lied)\b",
    re.IGNORECASE,
)
RETURN = re.compile(
    r"^\s+(?:(?:was|is)\s+(?:still\s+)?alive|(?:had\s+|has\s+)?survived|survives|had\s+not\s+died|"
    r"(?:came|comes)\s+back\s+from)\b"
)
ACTS = (  # noqa: SIM905
    "said says asked asks whispered whispers shouted shouts called calls replied replies answered answers spoke speaks "
    "laughed laughs smiled smiles grinned grins nodded nods sighed sighs shrugged shrugs walked walks ran runs came "
    "comes went goes stood stands sat sits rose rises took takes gave gives handed hands looked looks turned turns "
    "opened opens closed closes lit lights climbed climbs reached reaches pulled pulls pushed pushes picked picks "
    "waved waves entered enters left leaves shuffled shuffles knocked knocks poured pours wrote writes drove drives "
    "rode rides carried carries lifted lifts kissed kisses hugged hugs worked works mended mends hauled hauls rowed "
    "rows sailed sails fished fishes cooked cooks sewed sews milked milks signed signs sang sings whistled whistles "
    "prayed prays argued argues fought fights ate eats drank drinks"
).split()
ACT = re.compile(rf"^\s+(?:\w+ly\s+)?(?:{'|'.join(ACTS)})\b")
REMEMBERING = re.compile(
    r"\b(?:remember\w*|recall\w*|memor\w+|dream\w*|ghost\w*|spirit|vision|once|used\s+to|years?\s+ago|"
    r"portrait|painting|photo\w*|letter|diary|journal|before\s+(?:he|she|they)\s+died)\b",
    re.IGNORECASE,
)
BACK_IN_TIME = re.compile(
    r"\b(?:\w+\s+years?\s+(?:earlier|before)|years?\s+ago|flashback|long\s+ago|in\s+those\s+days)\b", re.IGNORECASE
)


@dataclass
class Event:
    person: str
    kind: str  # "death", "return" or "act"
    offset: int
    length: int
    sentence: str


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each quotation: “…” (across lines) or "…" (within a line), leftmost first, in one pass. A
    pattern would look for the closing mark again from every unclosed opening one (quadratic in a text of “s);
    here the next closing mark and the next line break are found once and reused until passed."""
    spans, at = [], 0
    next_close = next_straight = next_line = -1
    curly = straight = True  # whether a closing mark can still come
    while curly or straight:
        opening = text.find("“", at) if curly else -1
        plain = text.find('"', at) if straight else -1
        if opening == -1 and plain == -1:
            break
        if opening != -1 and (plain == -1 or opening < plain):
            if next_close <= opening:
                next_close = text.find("”", opening + 1)
            if next_close == -1:
                curly, at = False, opening + 1  # no later “ can close either
                continue
            spans.append((opening, next_close + 1))
            at = next_close + 1
            continue
        if next_straight <= plain:
            next_straight = text.find('"', plain + 1)
        if next_line <= plain:
            next_line = text.find("\n", plain + 1)
            next_line = len(text) if next_line == -1 else next_line
        if next_straight == -1:
            straight, at = False, plain + 1
        elif next_straight < next_line:
            spans.append((plain, next_straight + 1))
            at = next_straight + 1
        else:
            at = plain + 1  # this one is not closed on its line: the next " may open a quotation
    return spans


def _narrative(text: str) -> str:
    """The text with what characters say blanked out (same length, so offsets hold)."""
    out, at = [], 0
    for start, end in quoted_spans(text):
        out += [text[at:start], " " * (end - start)]
        at = end
    out.append(text[at:])
    return "".join(out)


def events(text: str, people: dict[str, str]) -> list[Event]:
    """Deaths, returns and acts of the people in `text`, in order; `people` maps each way of naming someone (a
    full name, a first name) to the person. Linear in the text."""
    if not people:
        return []
    found = []
    narrative = _narrative(text)
    back_in_time = BACK_IN_TIME.search(narrative)
    goes_back = back_in_time.start() if back_in_time else len(text)  # from here on the past is told
    for start, sentence in sentences(narrative):
        for person, name_start, name_end in named_in(sentence, people):
            before, after = sentence[:name_start], sentence[name_end:]
            event = None
            later = DEATH_LATER.match(after)
            if later and (later["passive_end"] is None or PASSIVE.match(after)):
                event = None if NOT_TOLD.search(before + " " + later["between"]) else "death"
            elif DEATH_AFTER.match(after) or DEATH_OWNED.match(after) or DEATH_BEFORE.search(before):
                event = None if NOT_TOLD.search(before + " " + after.split(",")[0]) else "death"
            elif RETURN.match(after):
                event = "return"
            elif ACT.match(after) and not REMEMBERING.search(sentence) and start < goes_back:
                event = "act"
            if event:
                found.append(Event(person, event, start + name_start, len(sentence) - name_start, sentence))
    return found


@dataclass
class Slip:
    act: Event  # in the checked text
    death: Event
    source: int  # where the death is told: 0 the checked text, 1.. the earlier texts in the order given


def slips(text: str, earlier: list[str], people: dict[str, str]) -> list[Slip]:
    """Acts in `text` of people the story has killed (in `earlier`, in story order, or before them in `text`)
    and not brought back since. One slip per person."""
    dead: dict[str, tuple[Event, int]] = {}
    for source, earlier_text in enumerate(earlier, 1):
        for event in events(earlier_text, people):
            if event.kind == "death":
                dead.setdefault(event.person, (event, source))
            elif event.kind == "return":
                dead.pop(event.person, None)
    found, reported = [], set()
    for event in events(text, people):
        if event.kind == "death":
            dead.setdefault(event.person, (event, 0))
        elif event.kind == "return":
            dead.pop(event.person, None)
        elif event.person in dead and event.person not in reported:
            reported.add(event.person)
            found.append(Slip(event, *dead[event.person]))
    return found
