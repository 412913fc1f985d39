"""Name drift without a model: rare spellings one or two letters from an established name."""

import time

from agents.names import close_spellings, distance, name_drifts

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
