"""Name drift: a name one or two letters from an established one that appears rarely (Roma for Rosa, Alan for
Allan, Waryn for Varyn) is most likely a slip. Needs no model, so the built-in set-up catches it too.

A stand-in is the other slip: a name used once, nowhere else in the story, that opens a sentence in the place of a
main character in a passage about them ("...Ethan... Jeremy looked out" in a story where Jeremy is never seen again).

A word counts as a name when it is capitalised somewhere other than the start of a sentence and never appears in
lower case (so "The", "Hope" in "hope" stories, "Mark" as in "mark" are left alone), or when the cast or the
world notes name it. Established names are the cast's and the world's, and names used at least
ESTABLISHED_USES times. Linear in the text; the pairwise comparison is capped at MAX_NAMES distinct names.
"""

import bisect
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

WORD_RE = re.compile(r"[^\W\d_][\w’'-]*")
# What lies between two words when the second starts a sentence: a full stop (or the like) and closing quotes,
# or a line break (a heading, a new paragraph).
SENTENCE_END = re.compile(r"[.!?…:;—–][\s\"'“”‘’()\[\]*_]*$|\n")
CONTRACTION = re.compile(r"[’'][a-z]+$")  # I’m, What’re, This’ll (the possessive ’s is taken off first)
INITIAL = re.compile(r"[A-HJ-Z]")  # not "I"
SENTENCE = re.compile(r"[.!?…\n]")
ESTABLISHED_USES = 3
RARE_SHARE = 0.25  # the rare spelling is used at most this share of the usual one's uses
MAX_RARE_USES = 3
MAX_NAMES = 2000
MAIN_USES = 10  # a name used this often is a main character's
NEIGHBOURS_CHECKED = 50  # established names compared letter by letter with one rare spelling, the most used first
FOCUS_CHARS = 600  # about a hundred words: the passage is about the last main character named this close before
# Capitalised words that open sentences and act like subjects without being names.
NOT_SUBJECTS = frozenset(
    "Everyone Everybody Someone Somebody Nobody Something Nothing Anyone Anything Each Both Neither Either All "  # noqa: SIM905
    "None Most Many Few Others Another Together Then".split()
)
# Words after a name that do not make it the subject of a verb (two people, a place, a possessive phrase).
NOT_VERBS = frozenset("and or nor but the a an of to in on at with for from by as than into".split())  # noqa: SIM905
# Capitalised words that are not names even mid-sentence (titles, days, months, the pronoun I).
NOT_NAMES = frozenset(
    "I Mr Mrs Ms Dr Sir Lady Lord Miss Madam Captain King Queen Prince Princess Elder Aunt Uncle Mom Mum Dad "  # noqa: SIM905
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August "
    "September October November December God OK Okay".split()
)


@dataclass
class Use:
    offset: int
    source: int  # which text: 0 is the text being checked, 1.. the earlier ones


@dataclass
class Drift:
    rare: str
    usual: str
    rare_uses: list[Use] = field(default_factory=list)
    usual_uses: list[Use] = field(default_factory=list)
    usual_is_known: bool = False  # a cast member's or a world entry's name


def base_word(word: str) -> str:
    """A word without its possessive ending: "Ness's" is "Ness"."""
    for suffix in ("’s", "'s", "’", "'"):
        if word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def name_uses(texts: list[str]) -> tuple[dict[str, list[Use]], set[str], set[str]]:
    """Every capitalised word's uses, the ones seen mid-sentence, and every word seen in lower case."""
    uses: dict[str, list[Use]] = defaultdict(list)
    mid_sentence, lower = set(), set()
    for source, text in enumerate(texts):
        previous = None
        for match in WORD_RE.finditer(text):
            word = base_word(match.group())
            if word[0].islower():
                lower.add(word.lower())
            elif len(word) >= 3 and not word.isupper() and not CONTRACTION.search(word):
                uses[word].append(Use(match.start(), source))
                # Only what lies between this word and the one before decides whether a sentence starts here;
                # the full stop of an initial ("Professor T. Artelett") ends none.
                if previous is not None and (
                    not SENTENCE_END.search(text[previous.end() : match.start()]) or INITIAL.fullmatch(previous.group())
                ):
                    mid_sentence.add(word)
            previous = match
    return uses, mid_sentence, lower


def _known_words(known) -> set[str]:
    """The words of the cast's and the world's names, as name_uses counts them."""
    return {base_word(w) for name in known for w in WORD_RE.findall(name) if len(w) >= 3}


def _as_names(uses, mid_sentence, lower, known_words=frozenset()) -> dict[str, list[Use]]:
    """The capitalised words used as names: seen mid-sentence (or named by the cast or the world), never in lower
    case, no title or month."""
    return {
        word: found
        for word, found in uses.items()
        if word not in NOT_NAMES and word.lower() not in lower and (word in mid_sentence or word in known_words)
    }


def distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of two letters counts once), or limit + 1 when it is larger."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2, previous = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if previous2 and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def close_spellings(a: str, b: str) -> bool:
    """One letter apart for names of four letters or more, two for names of eight or more; a trailing s (a
    family's name, a plural) does not count."""
    shorter = min(len(a), len(b))
    if shorter < 4 or a.rstrip("s") == b.rstrip("s"):
        return False
    limit = 2 if shorter >= 8 else 1
    return distance(a.lower(), b.lower(), limit) <= limit


def _limit(word: str) -> int:
    return 2 if len(word) >= 8 else 1


def _deletions(word: str, count: int) -> set[str]:
    """The word with up to `count` letters taken out (the word itself included)."""
    found, layer = {word}, {word}
    for _ in range(count):
        layer = {w[:i] + w[i + 1 :] for w in layer for i in range(len(w))}
        found |= layer
    return found


class CloseSpellings:
    """The names one or two letters from a word, looked up through the words each name becomes with letters taken
    out (two spellings within k edits, transpositions included, share such a word): each lookup costs the word's
    few dozen variants, not a pass over every name."""

    def __init__(self, names):
        self.index: dict[str, set[str]] = defaultdict(set)
        for name in names:
            for variant in _deletions(name.lower(), _limit(name)):
                self.index[variant].add(name)

    def near(self, word: str, rank, most: int = NEIGHBOURS_CHECKED) -> list[str]:
        """The names close to `word`, of the `most` best ranked (`rank`: a name -> a sort key) that share a
        variant with it: a real story never has dozens of names a letter apart, a hostile text may have thousands."""
        found = set()
        for variant in _deletions(word.lower(), _limit(word)):
            found |= self.index.get(variant, set())
        found.discard(word)
        return [name for name in sorted(found, key=rank)[:most] if close_spellings(word, name)]


def name_drifts(text: str, earlier: list[str] = (), known=()) -> list[Drift]:
    """Rare spellings in `text` close to an established name (in `text`, `earlier` or `known`); each drift lists
    where both spellings are used (source 0 is `text`). At most MAX_NAMES rare spellings and MAX_NAMES established
    names (the most used) are compared, each through an index: linear in the text."""
    texts = [text, *earlier]
    uses, mid_sentence, lower = name_uses(texts)
    known_words = _known_words(known)
    names = _as_names(uses, mid_sentence, lower, known_words)
    counts = Counter({word: len(found) for word, found in names.items()})
    established = [w for w in known_words if w not in NOT_NAMES][:MAX_NAMES] + [
        w for w, n in counts.most_common(MAX_NAMES) if n >= ESTABLISHED_USES and w not in known_words
    ]
    close = CloseSpellings(established)
    candidates = [
        w for w, n in counts.most_common(MAX_NAMES)
        if w not in known_words and n <= MAX_RARE_USES and any(u.source == 0 for u in names[w])
    ]  # fmt: skip
    drifts = []
    for rare in candidates:
        best = None
        for usual in close.near(rare, rank=lambda name: (-counts.get(name, 0), name)):
            usual_count = counts.get(usual, 0)
            if usual not in known_words and counts[rare] > usual_count * RARE_SHARE:
                continue  # both common: two people with similar names, not a slip
            if best is None or usual_count > counts.get(best, 0):
                best = usual
        if best is not None:
            drifts.append(Drift(rare, best, names[rare], names.get(best, []), best in known_words))
    return drifts


@dataclass
class StandIn:
    name: str
    use: Use
    usual: str  # the main character whose passage it stands in
    usual_uses: list[Use] = field(default_factory=list)


def _opens_like_a_subject(word: str) -> bool:
    # Sentences often open with a participle or an adverb ("Stepping back, she...", "Slowly...").
    return word not in NOT_NAMES and word not in NOT_SUBJECTS and not word.endswith(("ing", "ly"))


def _next_words(text: str) -> dict[int, str]:
    """Each word's offset -> the lower-case word right after it (one space between), for telling subjects."""
    following, previous = {}, None
    for match in WORD_RE.finditer(text):
        if previous is not None and text[previous.end() : match.start()] == " " and match.group()[0].islower():
            following[previous.start()] = match.group()
        previous = match
    return following


def stand_ins(text: str, earlier: list[str] = (), known=(), *, dictionary) -> list[StandIn]:
    """Names in `text` used once in the whole story, only to open a sentence and followed by a word of it (a verb,
    not "and Ethan"), in a passage about a main character: one named within FOCUS_CHARS before, and not in the
    name's own sentence. A main character's name is used MAIN_USES times or more, mostly as a subject (places
    are not). A word at the start of a sentence is a name only when `dictionary` (a set of words -> the ones it
    knows in lower case) does not know it. Linear in the text."""
    texts = [text, *earlier]
    uses, mid_sentence, lower = name_uses(texts)
    known_words = _known_words(known)
    following = [_next_words(t) for t in texts]

    def subject(use: Use) -> bool:
        return following[use.source].get(use.offset, "and") not in NOT_VERBS

    main = {
        w for w, found in _as_names(uses, mid_sentence, lower, known_words).items()
        if len(found) >= MAIN_USES and 2 * sum(map(subject, found)) >= len(found)
    }  # fmt: skip
    named_here = sorted((u.offset, w) for w in main for u in uses[w] if u.source == 0)
    candidates = {}
    for word, (use, *more) in uses.items():
        if more or use.source != 0 or word in mid_sentence or word in known_words:
            continue
        if word.lower() in lower:  # an ordinary word of the story
            continue
        if not _opens_like_a_subject(word) or not subject(use):
            continue
        last = bisect.bisect_left(named_here, (use.offset, "")) - 1
        if last < 0 or named_here[last][0] < use.offset - FOCUS_CHARS:
            continue
        usual = named_here[last][1]
        sentence = SENTENCE.split(text[use.offset : use.offset + FOCUS_CHARS], maxsplit=1)[0]
        if not re.search(rf"\b{re.escape(usual)}\b", sentence):  # both in one sentence: two people
            candidates[word] = StandIn(word, use, usual, uses[usual])
    ordinary = dictionary(set(candidates))
    return [found for word, found in candidates.items() if word not in ordinary]


def established_names(texts: list[str]) -> list[str]:
    """The names the texts use as names (capitalised mid-sentence, never in lower case) at least ESTABLISHED_USES
    times: people and places, for a story whose cast list is short or empty."""
    return [w for w, found in _as_names(*name_uses(texts)).items() if len(found) >= ESTABLISHED_USES]


def person_words(names: list[str], dictionary=None) -> dict[str, str]:
    """How a text names each person -> the name: the full name, and each word of it of three letters or more
    that is no ordinary word (`dictionary`: a set of words -> the ones it knows; "Old" of "Old Bram" is one) and
    that no one else's name shares. A name that is a word of a longer one ("Mara" of "Mara Vell") is that person;
    a word two names share names no one."""
    names = sorted({n.strip() for n in names if n and n.strip()}, key=lambda n: (-len(n.split()), n))
    candidates = {w for name in names for w in re.findall(r"[A-Z][\w’'-]+", name) if len(w) >= 3}
    ordinary = dictionary(candidates) if dictionary and candidates else set()
    people: dict[str, str | None] = {}
    for name in names:  # the longest first, so a first name alone finds its full name
        if name in people:
            continue
        people[name] = name
        for word in re.findall(r"[A-Z][\w’'-]+", name):
            if len(word) >= 3 and word != name and word not in ordinary and word not in NOT_NAMES:
                people[word] = name if people.get(word, name) == name else None
    return {w: n for w, n in people.items() if n}


# Capitalised words one space apart; an apostrophe inside a name ("O’Brien") but not a possessive ("Bram’s").
NAME_WORD = r"[A-Z][\w-]*(?:[’'][A-Z][\w-]*)*"
CAPITALISED_RUN = re.compile(rf"{NAME_WORD}(?:[ ]{NAME_WORD})*")
LONGEST_NAME_WORDS = 4


def named_in(sentence: str, people: dict[str, str]):
    """(person, start, end) for each person the sentence names (`people`: person_words()): in each run of
    capitalised words, the longest known name at each place ("Then Old Bram" is Old Bram; "Tomas Mara" is two
    people)."""
    for run in CAPITALISED_RUN.finditer(sentence):
        words = [(run.start() + m.start(), m.group()) for m in re.finditer(r"\S+", run.group())]
        at = 0
        while at < len(words):
            for size in range(min(LONGEST_NAME_WORDS, len(words) - at), 0, -1):
                name = " ".join(w for _, w in words[at : at + size])
                if name in people:
                    start, (last, word) = words[at][0], words[at + size - 1]
                    yield people[name], start, last + len(word)
                    at += size
                    break
            else:
                at += 1
