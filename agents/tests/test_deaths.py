"""The dead acting, without a model: deaths told plainly, acts in the narrative, returns, memories and the past."""

import time

import pytest

from agents.checks.deaths import events, slips
from agents.checks.names import person_words
from agents.tests import deaths_set

PEOPLE = person_words(["Old Bram", "Wenna Treloar"], dictionary=lambda words: {"Old"})
DIED = "Old Bram died in the fire at the mill."


def acts(text: str, earlier=(DIED,)) -> list[str]:
    return [s.act.person for s in slips(text, list(earlier), PEOPLE)]


def test_a_dead_character_who_speaks_or_acts_later_is_a_slip_citing_the_death():
    text = "“Bring the lamp,” Bram said, shuffling into the kitchen."
    [slip] = slips(text, [DIED], PEOPLE)
    assert (slip.act.person, slip.death.sentence, slip.source) == ("Old Bram", DIED, 1)
    assert text[slip.act.offset :].startswith("Bram said")
    assert acts("Then Old Bram slowly climbed the stairs. Old Bram lit his pipe.") == ["Old Bram"]  # once a person
    assert acts("Bram dies in the fire. At dawn Bram walks into the yard.", earlier=()) == ["Old Bram"]  # present


@pytest.mark.parametrize(
    "text",
    [
        "They buried Old Bram on the hill behind the mill.",
        "Wenna remembered how Bram laughed at the boats.",  # a memory
        "Bram's widow kept his pipe on the shelf.",  # someone else acts
        "“Bram said he would come,” Wenna lied.",  # inside quotation marks: said, not told
        "Twenty years earlier, the mill was new. Bram walked to work every morning.",  # back in time
        "In the dream Bram smiled at her.",
    ],
)
def test_memories_the_past_others_and_speech_are_not_acts_of_the_dead(text):
    assert acts(text) == []


@pytest.mark.parametrize(
    "earlier",
    [
        "Old Bram nearly died in the fire at the mill.",
        "If Bram died, the mill would close.",
        "Everyone feared Old Bram was dead.",
        "Wenna said Old Bram died in the fire.",  # only reported
        "Old Bram was killed in the fire. Days later Old Bram was alive after all, in the infirmary.",  # a return
    ],
)
def test_a_death_not_told_as_one_or_undone_is_no_death(earlier):
    assert acts("Bram lit his pipe.", earlier=[earlier]) == []


def test_deaths_come_in_many_forms():
    kinds = [
        [e.kind for e in events(text, PEOPLE)]
        for text in ("The raiders killed Wenna at the ford.", "Wenna's funeral was on Sunday.",
                     "The late Wenna Treloar left the farm to her son.", "Wenna had drowned.")
    ]  # fmt: skip
    assert kinds == [["death"]] * 4


def test_a_long_text_is_read_in_linear_time():
    text = "Old Bram lit his pipe and Wenna Treloar laughed. The gulls cried over the quay. " * 20000
    started = time.perf_counter()
    assert acts(text + DIED + " Bram said nothing.", earlier=()) == ["Old Bram"]
    assert time.perf_counter() - started < 10


def test_deaths_told_in_the_shapes_writers_use_are_found_and_the_rest_stay_quiet():
    """The labelled set (agents/tests/data/deaths.json, also scored by bench/continuity.py): compound, passive and
    appositive deaths and deaths told by others, then an act; and deaths not told, returns, someone else's death,
    memories, speech and the past."""
    result = deaths_set.outcome()
    assert result["slips"] >= 30 and result["clean"] >= 30
    assert result["missed"] == [] and result["alarms"] == []


@pytest.mark.parametrize(
    "text",
    ["Hale fought the boarders, and the bosun died beside him.", "Bram chased the rat and killed it."],
)
def test_someone_elses_death_or_a_killing_is_not_the_subjects_death(text):
    people = person_words(["Hale", "Bram"], dictionary=lambda words: set())
    assert [e.kind for e in events(text, people) if e.kind == "death"] == []
