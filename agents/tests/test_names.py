"""Name drift without a model: rare spellings one or two letters from an established name, and names used once
in a main character's place."""

import time

import pytest

from agents.checks.grammar import dictionary_words
from agents.checks.names import close_spellings, distance, name_drifts, name_uses, named_in, person_words, stand_ins
from tests import hostile

EARLIER = (
    "Idony Falk came down the hill at dusk. Behind her walked Brannoch, carrying the nets. "
    "Idony said nothing until they reached the boats. Brannoch laughed at that, and Idony laughed too. "
    "The boats belonged to old Hesketh, who lent them to anyone who asked."
)


def test_a_rare_spelling_close_to_an_established_name_is_flagged_with_where_both_appear():
    text = "At the quay Idony untied the rope. Later Idoney and Brannoch rowed out past the point."
    [drift] = name_drifts(text, [EARLIER])
    assert (drift.rare, drift.usual) == ("Idoney", "Idony")
    assert [u.offset for u in drift.rare_uses] == [text.index("Idoney")]
    assert len(drift.usual_uses) == 4 and {u.source for u in drift.usual_uses} == {0, 1}


def test_the_cast_establishes_a_name_even_before_the_text_uses_it_much():
    [drift] = name_drifts("Then Hesketth shouted from the shore.", known=["Old Hesketh"])
    assert (drift.rare, drift.usual, drift.usual_is_known) == ("Hesketth", "Hesketh", True)


def test_two_people_with_similar_names_both_in_use_are_not_a_slip():
    text = " ".join(["Mara spoke to Maya.", "Maya answered Mara.", "Mara and Maya left."] * 2)
    assert name_drifts(text) == []


def test_common_words_and_sentence_openers_are_not_names():
    text = (
        "Hope was all they had left. They had hope. Hopes rose and fell. Wait for me, she said. "
        "Mark the spot, he said, and make a mark on the map. Marks were everywhere."
    )
    assert name_drifts(text) == []


def test_possessives_and_family_names_in_the_plural_are_the_same_name():
    text = "Brannoch's boat was late. The Brannochs were always late. " + EARLIER
    assert name_drifts(text) == []


def test_spelling_distance():
    assert distance("varyn", "waryn", 1) == 1 and distance("allan", "alan", 1) == 1
    assert distance("roma", "rosa", 1) == 1 and distance("idony", "idnoy", 1) == 1  # a swap counts once
    assert distance("mara", "tomas", 1) == 2  # over the limit
    assert close_spellings("Varyn", "Waryn") and not close_spellings("Tom", "Tim")  # too short to tell
    assert close_spellings("Katherine", "Katharyne") and not close_spellings("Brannoch", "Brannochs")


def test_a_long_text_without_a_single_full_stop_is_checked_in_linear_time():
    words = [f"Name{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}x" for i in range(600)]
    text = " and ".join(words * 170)  # ~200,000 words, 600 distinct capitalised words
    started = time.perf_counter()
    name_drifts(text)
    assert time.perf_counter() - started < 10


# A stand-in: a name used once, in a main character's place. Idony is the main character (named often, mostly as
# the subject of a verb); Greyhaven is a place named as often, after prepositions.
IDONY = " ".join(
    f"That day Idony {verb} the {thing} in Greyhaven."
    for verb, thing in [
        ("mended", "nets"), ("counted", "boats"), ("watched", "tide"), ("carried", "oars"), ("found", "rope"),
        ("fed", "gulls"), ("painted", "hull"), ("climbed", "steps"), ("lit", "lamp"), ("closed", "shutters"),
    ]
)  # fmt: skip
TAIL = "The sea had gone quiet around the boat. "


def no_words(words):
    return set()


def test_a_name_used_once_in_a_main_characters_place_is_a_stand_in():
    text = IDONY + " Idony pulled the last net aboard. " + TAIL + "Wenna looked back at the harbour lights."
    [found] = stand_ins(text, dictionary=no_words)
    assert (found.name, found.usual) == ("Wenna", "Idony")
    assert found.use.offset == text.index("Wenna") and len(found.usual_uses) == 11


def test_the_main_character_may_be_established_in_earlier_chapters():
    [found] = stand_ins("Idony pulled the last net aboard. Wenna looked back.", [IDONY], dictionary=no_words)
    assert (found.name, found.usual) == ("Wenna", "Idony")


@pytest.mark.parametrize(
    "ending",
    [
        "Wenna, the harbour master's daughter, waved from the quay.",  # introduced, not a subject
        "Idony and Wenna looked back.",  # mid-sentence: named beside the main character
        "Wenna looked at Idony for a long time.",  # both in one sentence: two people
        "Wenna looked back. Wenna waved.",  # used twice
        "Stepping back, she looked at the lights.",  # a participle opens the sentence
        "Everyone looked back at the harbour lights.",
    ],
)
def test_introductions_second_uses_and_two_people_are_not_stand_ins(ending):
    text = IDONY + " Idony pulled the last net aboard. " + TAIL + ending
    assert stand_ins(text, dictionary=no_words) == []


def test_a_cast_member_a_place_and_a_passage_long_after_the_main_character_are_left_alone():
    text = IDONY + " Idony pulled the last net aboard. " + TAIL + "Wenna looked back."
    assert stand_ins(text, known=["Wenna Treloar"], dictionary=no_words) == []
    places = " ".join(["They sailed to Greyhaven at dawn."] * 12) + " " + TAIL + "Wenna looked back."
    assert stand_ins(places, dictionary=no_words) == []  # Greyhaven is a place: named, never a subject
    far = IDONY + " Idony pulled the last net aboard. " + TAIL * 20 + "Wenna looked back."
    assert stand_ins(far, dictionary=no_words) == []


def test_a_word_the_dictionary_knows_is_not_a_name_at_the_start_of_a_sentence():
    text = IDONY + " Idony pulled the last net aboard. " + TAIL + "Thunder rolled over the bay. Wenna looked back."
    assert [f.name for f in stand_ins(text, dictionary=dictionary_words)] == ["Wenna"]
    assert dictionary_words({"Thunder", "Hmm", "Wenna", "Idony"}) == {"Thunder", "Hmm"}


def test_an_initials_full_stop_does_not_start_a_sentence():
    uses, mid_sentence, _ = name_uses(["They met Professor T. Artelett at sea. Then I. Once more."])
    assert "Artelett" in mid_sentence and "Once" not in mid_sentence


def test_stand_ins_take_linear_time_on_a_long_text():
    text = (IDONY + " " + TAIL * 3) * 2000 + "Wenna looked back."  # ~200,000 words
    started = time.perf_counter()
    assert [f.name for f in stand_ins(text, dictionary=no_words)] == ["Wenna"]
    assert time.perf_counter() - started < 10


def test_a_first_name_alone_is_the_person_whose_full_name_it_is():
    people = person_words(["Mara", "Mara Vell", "Old Ness", "Ness", "Tomas Reed", "Tomas Vane", "Tomas"],
                          dictionary=lambda words: {w for w in words if w == "Old"})  # fmt: skip
    assert people["Mara"] == people["Vell"] == people["Mara Vell"] == "Mara Vell"
    assert people["Ness"] == "Old Ness" and "Old" not in people
    assert "Tomas" not in people and people["Reed"] == "Tomas Reed"  # two people share it


def test_a_sentence_names_the_longest_known_name_at_each_place():
    people = person_words(["Old Bram", "Mara", "Liam O’Brien"], dictionary=lambda words: {"Old"})
    sentence = "Then Old Bram and Mara met O’Brien’s sister. Tomas Mara waved."
    assert [(p, sentence[a:b]) for p, a, b in named_in(sentence, people)] == [
        ("Old Bram", "Old Bram"), ("Mara", "Mara"), ("Liam O’Brien", "O’Brien"), ("Mara", "Mara"),
    ]  # fmt: skip


def test_thousands_of_names_a_letter_apart_are_compared_in_bounded_time():
    """Each rare spelling was compared with every established name: 620,000 characters took minutes."""
    text = hostile.many_names(620_000)
    started = time.perf_counter()
    name_drifts(text)
    assert time.perf_counter() - started < 8
