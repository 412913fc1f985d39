"""A chapter's style in figures, without a model: sentence lengths, dialogue, adverbs and filter words, passive
voice, repeated words and openings, readability, point of view and tense.

Everything is one pass over the words and sentences (linear in the text, no backtracking patterns), so a
100,000-word story is measured in well under a second. The figures are heuristics for English prose: an adverb
is a word ending in -ly that is not on a list of common exceptions, a passive is a form of "to be" followed by a
past participle, a point-of-view or tense slip is a narration sentence (outside quotes) that leans the other way
from the chapter as a whole. They point at places to look, as a style editor would, not at errors.
"""

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from statistics import median, pstdev

from agents.checks.text import sentences

WORD_RE = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
VOWEL_GROUPS_RE = re.compile(r"[aeiouy]+")
# Sentence-length buckets for the histogram: up to 5 words, 6-10, ... 36-40, over 40.
BUCKETS = [5, 10, 15, 20, 25, 30, 35, 40]
OPENING_RUN = 3  # this many sentences in a row opening with the same word is worth a look

NOT_ADVERBS = frozenset(
    [
        "only",
        "family",
        "early",
        "likely",
        "holy",
        "reply",
        "belly",
        "fly",
        "ugly",
        "lonely",
        "lovely",
        "friendly",
        "daily",
        "silly",
        "jelly",
        "rally",
        "ally",
        "supply",
        "apply",
        "july",
        "italy",
        "bully",
        "hilly",
        "chilly",
        "curly",
        "elderly",
        "costly",
        "deadly",
        "lively",
        "lowly",
        "manly",
        "orderly",
        "sly",
        "wily",
        "woolly",
        "melancholy",
        "homily",
        "monopoly",
        "anomaly",
        "assembly",
        "comply",
        "imply",
        "rely",
        "multiply",
        "butterfly",
        "dragonfly",
        "lily",
        "emily",
        "molly",
        "sally",
        "billy",
        "kelly",
        "holly",
        "polly",
        "dolly",
        "oily",
        "smelly",
        "bubbly",
        "wrinkly",
        "scaly",
        "prickly",
        "cuddly",
        "wobbly",
        "ghostly",
        "heavenly",
        "kindly",
        "sickly",
        "stately",
        "timely",
        "worldly",
    ]
)
FILTER_WORDS = frozenset(
    [
        "saw",
        "see",
        "sees",
        "seeing",
        "seen",
        "heard",
        "hear",
        "hears",
        "hearing",
        "felt",
        "feel",
        "feels",
        "feeling",
        "noticed",
        "notice",
        "notices",
        "realized",
        "realised",
        "realize",
        "realise",
        "realizes",
        "realises",
        "wondered",
        "wonder",
        "wonders",
        "watched",
        "watch",
        "watches",
        "seemed",
        "seem",
        "seems",
        "decided",
        "decide",
        "decides",
        "thought",
        "knew",
        "know",
        "knows",
        "looked",
        "smelled",
        "smelt",
        "tasted",
    ]
)
BE_FORMS = frozenset(["am", "is", "are", "was", "were", "be", "been", "being"])
IRREGULAR_PARTICIPLES = frozenset(
    [
        "done",
        "seen",
        "given",
        "taken",
        "made",
        "known",
        "shown",
        "thrown",
        "written",
        "spoken",
        "broken",
        "chosen",
        "driven",
        "eaten",
        "fallen",
        "forgotten",
        "forgiven",
        "frozen",
        "hidden",
        "ridden",
        "risen",
        "shaken",
        "stolen",
        "sworn",
        "torn",
        "worn",
        "woken",
        "beaten",
        "bitten",
        "born",
        "borne",
        "bound",
        "brought",
        "built",
        "bought",
        "caught",
        "dealt",
        "fed",
        "felt",
        "fought",
        "found",
        "held",
        "hung",
        "hurt",
        "kept",
        "laid",
        "led",
        "left",
        "lent",
        "lost",
        "meant",
        "met",
        "paid",
        "put",
        "read",
        "sent",
        "set",
        "shot",
        "shut",
        "sold",
        "sought",
        "spent",
        "spun",
        "struck",
        "stuck",
        "stung",
        "taught",
        "told",
        "thought",
        "understood",
        "won",
        "wound",
    ]
)
FIRST_PERSON = frozenset(["i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves"])
THIRD_PERSON = frozenset(
    ["he", "him", "his", "himself", "she", "her", "hers", "herself", "they", "them", "their", "theirs", "themselves"]
)
# Tense in narration: auxiliaries and common verbs whose form tells it (regular pasts in -ed count too).
PAST_MARKERS = frozenset(
    [
        "was",
        "were",
        "had",
        "did",
        "said",
        "saw",
        "felt",
        "heard",
        "went",
        "came",
        "took",
        "ran",
        "thought",
        "knew",
        "made",
        "got",
        "gave",
        "found",
        "told",
        "left",
        "stood",
        "sat",
        "began",
        "kept",
        "held",
        "brought",
        "turned",
        "looked",
        "walked",
        "asked",
        "seemed",
    ]
)
PRESENT_MARKERS = frozenset(
    [
        "is",
        "are",
        "has",
        "does",
        "am",
        "says",
        "sees",
        "feels",
        "hears",
        "goes",
        "comes",
        "takes",
        "runs",
        "thinks",
        "knows",
        "makes",
        "gets",
        "gives",
        "finds",
        "tells",
        "leaves",
        "stands",
        "sits",
        "begins",
        "keeps",
        "holds",
        "brings",
        "turns",
        "looks",
        "walks",
        "asks",
        "seems",
    ]
)
COMMON_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "as",
        "than",
        "that",
        "this",
        "these",
        "those",
        "there",
        "here",
        "it",
        "its",
        "it's",
        "i",
        "me",
        "my",
        "we",
        "us",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "was",
        "were",
        "is",
        "are",
        "be",
        "been",
        "being",
        "am",
        "had",
        "has",
        "have",
        "do",
        "did",
        "does",
        "not",
        "no",
        "nor",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "only",
        "own",
        "same",
        "too",
        "very",
        "can",
        "will",
        "just",
        "would",
        "could",
        "should",
        "may",
        "might",
        "must",
        "shall",
        "said",
        "says",
        "say",
        "one",
        "two",
        "up",
        "down",
        "out",
        "off",
        "again",
        "once",
        "back",
        "like",
        "now",
        "still",
        "even",
        "ever",
        "never",
        "also",
        "well",
        "yes",
        "oh",
        "i'm",
        "i'd",
        "i'll",
        "don't",
        "didn't",
        "wasn't",
        "couldn't",
        "wouldn't",
        "it'd",
        "he'd",
        "she'd",
        "they'd",
        "we'd",
        "you'd",
        "that's",
        "there's",
        "what's",
        "let's",
    ]
)
QUOTES_OPEN, QUOTES_CLOSE = '“"', '”"'


@dataclass
class ChapterStyle:
    words: int = 0
    sentences: int = 0
    sentence_lengths: list[int] = field(default_factory=list)  # histogram counts, one per bucket and one over
    mean_sentence: float = 0.0
    sentence_variety: float = 0.0  # standard deviation of sentence length, in words
    dialogue_share: float = 0.0  # of words, inside quotation marks
    adverbs_per_1000: float = 0.0
    filter_words_per_1000: float = 0.0
    passive_per_100_sentences: float = 0.0
    reading_ease: float = 0.0  # Flesch: higher is easier, 60-70 is plain English
    point_of_view: str = ""  # "first" or "third" (in narration)
    tense: str = ""  # "past" or "present" (in narration)
    pov_slips: list[str] = field(default_factory=list)  # a few narration sentences that lean the other way
    tense_slips: list[str] = field(default_factory=list)
    repeated_words: list[tuple[str, int]] = field(default_factory=list)  # the most used words that say something
    repeated_openings: list[str] = field(default_factory=list)  # "She" (3 in a row)…
    top_adverbs: list[tuple[str, int]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def syllables(word: str) -> int:
    groups = len(VOWEL_GROUPS_RE.findall(word.lower()))
    if word.lower().endswith("e") and groups > 1 and not word.lower().endswith("le"):
        groups -= 1
    return max(1, groups)


def bucket(length: int) -> int:
    for index, top in enumerate(BUCKETS):
        if length <= top:
            return index
    return len(BUCKETS)


def narration_and_dialogue(sentence: str, inside: bool) -> tuple[str, int, bool]:
    """The sentence's words outside quotation marks, how many words were inside, and whether a quotation is
    still open at its end (dialogue often runs across sentences)."""
    outside, spoken, piece = [], 0, []
    for char in sentence:
        if (char in QUOTES_OPEN and not inside) or (char in QUOTES_CLOSE and inside):
            words = len(WORD_RE.findall("".join(piece)))
            if inside:
                spoken += words
            else:
                outside.append("".join(piece))
            piece, inside = [], not inside
            continue
        piece.append(char)
    if inside:
        spoken += len(WORD_RE.findall("".join(piece)))
    else:
        outside.append("".join(piece))
    return " ".join(outside), spoken, inside


def measure(text: str, slips_shown: int = 3) -> ChapterStyle:
    """The chapter's style figures, in one pass over its sentences."""
    style = ChapterStyle()
    histogram = [0] * (len(BUCKETS) + 1)
    lengths, counts, adverbs = [], Counter(), Counter()
    filters = passives = syllable_count = spoken_words = 0
    narration_leans = []  # per narration sentence: (pov +1 first / -1 third / 0, tense +1 present / -1 past / 0)
    openings, run_word, run = [], "", 0
    inside = False
    for _, sentence in sentences(text):
        words = WORD_RE.findall(sentence)
        if not words:
            continue
        lengths.append(len(words))
        histogram[bucket(len(words))] += 1
        lower = [w.lower().replace("’", "'") for w in words]
        for i, word in enumerate(lower):
            counts[word] += 1
            syllable_count += syllables(word)
            if word.endswith("ly") and len(word) > 4 and word not in NOT_ADVERBS:
                adverbs[word] += 1
            if word in FILTER_WORDS:
                filters += 1
            if word in BE_FORMS and i + 1 < len(lower):
                following = lower[i + 1]
                if following in IRREGULAR_PARTICIPLES or (following.endswith("ed") and len(following) > 4):
                    passives += 1
        narration, spoken, inside = narration_and_dialogue(sentence, inside)
        spoken_words += spoken
        told = [w.lower() for w in WORD_RE.findall(narration)]
        if told:
            first = sum(w in FIRST_PERSON for w in told)
            third = sum(w in THIRD_PERSON for w in told)
            present = sum(w in PRESENT_MARKERS for w in told)
            past = sum(w in PAST_MARKERS or (w.endswith("ed") and len(w) > 4) for w in told)
            narration_leans.append((sentence, (first > third) - (third > first), (present > past) - (past > present)))
        opener = lower[0]
        run = run + 1 if opener == run_word else 1
        run_word = opener
        if run == OPENING_RUN:
            openings.append(words[0])
    total = sum(lengths)
    if not total:
        return style
    style.words, style.sentences = total, len(lengths)
    style.sentence_lengths = histogram
    style.mean_sentence = round(total / len(lengths), 1)
    style.sentence_variety = round(pstdev(lengths), 1)
    style.dialogue_share = round(spoken_words / total, 3)
    style.adverbs_per_1000 = round(1000 * sum(adverbs.values()) / total, 1)
    style.filter_words_per_1000 = round(1000 * filters / total, 1)
    style.passive_per_100_sentences = round(100 * passives / len(lengths), 1)
    style.reading_ease = round(206.835 - 1.015 * total / len(lengths) - 84.6 * syllable_count / total, 1)
    pov = sum(lean for _, lean, _ in narration_leans)
    tense = sum(lean for _, _, lean in narration_leans)
    style.point_of_view = "first" if pov > 0 else "third"
    style.tense = "present" if tense > 0 else "past"
    pov_sign, tense_sign = (1 if pov > 0 else -1), (1 if tense > 0 else -1)
    style.pov_slips = [s for s, lean, _ in narration_leans if lean == -pov_sign][:slips_shown]
    style.tense_slips = [s for s, _, lean in narration_leans if lean == -tense_sign][:slips_shown]
    style.repeated_words = [(w, n) for w, n in counts.most_common(60) if w not in COMMON_WORDS and len(w) > 2][:8]
    style.repeated_openings = list(dict.fromkeys(openings))[:5]
    style.top_adverbs = adverbs.most_common(5)
    return style


def norm(styles: list[dict]) -> dict:
    """The writer's usual figures: the median of each over their chapters (those with enough words)."""
    keys = ("mean_sentence", "sentence_variety", "dialogue_share", "adverbs_per_1000", "filter_words_per_1000",
            "passive_per_100_sentences", "reading_ease")  # fmt: skip
    measured = [s for s in styles if s.get("words", 0) >= 200]
    return {key: median(s[key] for s in measured) for key in keys} if measured else {}
