"""Eye and hair colours without a model: whose they are, which families agree, and what is left alone."""

import time

import pytest

from agents.checks.appearance import mentions, slips
from agents.checks.names import person_words

PEOPLE = person_words(["Mara Vell", "Tomas"])
TOMAS, MARA = person_words(["Tomas"]), person_words(["Mara"])


def owned(sentence: str) -> list[tuple[str, str, str]]:
    return [(m.person, m.feature, m.colour) for m in mentions(sentence, PEOPLE)]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Mara had grey eyes and a quick temper.", [("Mara Vell", "eyes", "grey")]),
        ("Mara looked at the river with her green eyes narrowed.", [("Mara Vell", "eyes", "green")]),
        ("Vell's emerald eyes shone in the lamplight.", [("Mara Vell", "eyes", "emerald")]),
        ("Her eyes were grey, Mara thought.", [("Mara Vell", "eyes", "grey")]),
        ("Mara, dark-haired and tall, came in.", [("Mara Vell", "hair", "dark")]),
        ("Mara pushed her long, dark hair back.", [("Mara Vell", "hair", "dark")]),
        ("Mara smiled at the boy with brown hair.", []),  # the boy's hair
        ("Tomas looked at Mara, her blue eyes wide.", []),  # two people: whose is unclear
        ("Mara's eyes turned silver as the spell took hold.", []),  # a told change
        ("Her red eyes stung from the smoke, Mara said.", []),  # red is no eye colour
        ("Mara blinked her dark blue eyes.", [("Mara Vell", "eyes", "blue")]),  # the colour nearest the eyes
        ("Her eyes were dark with anger, Mara knew.", []),  # a mood, not a colour
    ],
)
def test_a_colour_is_someones_only_when_the_sentence_says_whose(sentence, expected):
    assert owned(sentence) == expected


def test_a_colour_differing_from_the_profile_is_a_slip_and_a_family_match_is_not():
    profiles = {"Mara Vell": "Grey eyes, dark hair tied back."}
    text = "Mara looked up, her green eyes narrowing. Mara's silvery eyes held his. Mara pushed back her black hair."
    [slip] = slips(text, [], profiles, PEOPLE)
    assert (slip.new.colour, slip.established.colour, slip.source) == ("green", "grey", -1)
    assert text[slip.new.offset : slip.new.offset + slip.new.length] == "green eyes"


def test_without_a_profile_the_first_earlier_chapter_establishes_the_colour():
    earlier = ["Tomas was thin, with ink on his fingers.", "Tomas had hazel eyes, his mother's."]
    assert slips("Tomas blinked his green eyes.", earlier, {}, TOMAS) == []  # hazel is green and brown
    [slip] = slips("Tomas blinked his blue eyes.", earlier, {}, TOMAS)
    assert (slip.established.colour, slip.source) == ("hazel", 2)


def test_the_checked_text_contradicts_itself_and_is_reported_once_per_colour():
    text = "Tomas had brown eyes. Later Tomas rubbed his blue eyes. Tomas closed his blue eyes."
    [slip] = slips(text, [], {}, TOMAS)
    assert (slip.new.colour, slip.established.colour, slip.source) == ("blue", "brown", 0)


def test_hair_going_grey_is_ageing_not_a_slip():
    assert slips("Years later Tomas had white hair.", ["Tomas had black hair."], {}, TOMAS) == []
    [slip] = slips("Tomas ran a hand through his blond hair.", ["Tomas had black hair."], {}, TOMAS)
    assert slip.new.feature == "hair"


def test_a_long_text_is_read_in_linear_time():
    text = "Mara had grey eyes and a quick temper. The river ran on past the mill. " * 20000  # ~300,000 words
    started = time.perf_counter()
    assert slips(text + "Mara rubbed her blue eyes.", [], {}, MARA)
    assert time.perf_counter() - started < 10


def test_a_rule_finding_and_the_judges_on_one_passage_are_dismissed_together():
    from agents.checks.continuity_check import merge_repeats
    from agents.team.messages import Finding

    def found(check, offset, key):
        return Finding(check=check, severity="warn", message=key, evidence="green eyes", offset=offset, length=10,
                       fingerprint=key)  # fmt: skip

    rule, alone = found("character_consistency", 40, "rule"), found("character_consistency", 200, "alone")
    judged = [found("character_consistency", 35, "judge"), found("fact", 90, "other")]
    kept, stands = merge_repeats([rule, alone], judged, ignored=set())
    assert [f.fingerprint for f in kept] == ["alone"] and [f.fingerprint for f in stands] == ["judge", "other"]
    assert stands[0].same_as == ["rule"]
    # Once the rule's finding is dismissed, the judge's on the same passage goes with it.
    judged = [found("character_consistency", 35, "judge"), found("fact", 90, "other")]
    kept, stands = merge_repeats([rule, alone], judged, ignored={"rule"})
    assert [f.fingerprint for f in kept] == ["alone"] and [f.fingerprint for f in stands] == ["other"]


def test_a_first_name_in_the_text_is_the_profiles_full_name():
    people = person_words(["Mara Vell", "Mara", "Tomas"])  # the cast's name and the name the text uses
    [slip] = slips("Mara rubbed her blue eyes.", [], {"Mara Vell": "Grey eyes."}, people)
    assert (slip.new.person, slip.source) == ("Mara Vell", -1)
