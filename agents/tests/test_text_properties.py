"""Every rule that reads a writer's text holds its contract on any text, in bounded time: the sentence splitter,
story memory's passages, the name checks, the colour and death rules. Texts are drawn by Hypothesis, including
short patterns repeated into tens of thousands of characters (the shape that makes a backtracking pattern slow);
each example must finish within its deadline."""

import re
from datetime import timedelta

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from agents.checks import appearance, deaths, names
from agents.checks.text import sentences
from agents.memory.store import chunk_passages

# What a writer could type, with the marks the rules look at made likely.
MARKS = st.sampled_from(
    list(" \n\t.,!?…:;—–\"'“”‘’()*_#-")
    + ["Mara", "Bram", " died", " said", " eyes", " hair", " green", " blue", "’s", " was killed", "years ago"]
)
PIECE = st.lists(st.one_of(MARKS, st.text(max_size=6)), max_size=12).map("".join)
TEXT = st.one_of(
    st.text(max_size=2000),
    st.lists(PIECE, max_size=60).map("".join),
    st.tuples(PIECE, st.integers(min_value=1, max_value=20_000)).map(lambda t: (t[0] * t[1])[:100_000]),
)
# No shrinking: a failing example of 100,000 characters is reported as drawn, not minutes later.
BUDGET = settings(max_examples=60, deadline=timedelta(seconds=2), phases=[Phase.explicit, Phase.reuse, Phase.generate])
PEOPLE = names.person_words(["Mara Vell", "Old Bram"])


@BUDGET
@given(TEXT)
def test_sentences_are_where_they_say_in_order_and_leave_out_no_letter(text):
    covered, end = bytearray(len(text)), 0
    for offset, sentence in sentences(text):
        assert text[offset : offset + len(sentence)] == sentence and sentence == sentence.strip() and sentence
        assert offset >= end
        end = offset + len(sentence)
        covered[offset:end] = b"\1" * len(sentence)
    assert all(covered[i] for i, char in enumerate(text) if char.isalnum())


@BUDGET
@given(TEXT)
def test_memory_passages_point_at_their_text_and_lose_no_word(text):
    passages = chunk_passages(text, max_words=120)
    for passage in passages:
        assert text[passage.start : passage.end] == passage.text
    assert sum(len(p.text.split()) for p in passages) == len(text.split())


@BUDGET
@given(TEXT, TEXT)
def test_name_checks_name_words_of_the_texts(text, earlier):
    for drift in names.name_drifts(text, [earlier], known=["Mara Vell"]):
        assert drift.rare in text and drift.rare != drift.usual
    for stand_in in names.stand_ins(text, [earlier], known=["Mara Vell"], dictionary=lambda words: set()):
        assert text[stand_in.use.offset :].startswith(stand_in.name)


@BUDGET
@given(TEXT)
def test_colours_and_deaths_are_found_where_they_are_told(text):
    for mention in appearance.mentions(text, PEOPLE):
        assert mention.colour in text[mention.offset : mention.offset + mention.length].lower()
    for event in deaths.events(text, PEOPLE):
        assert event.person in ("Mara Vell", "Old Bram") and 0 <= event.offset < len(text)


QUOTED = re.compile(r"“[^”]*”|\"[^\"\n]*\"")  # what a quotation is, as a (slow) pattern


@settings(max_examples=300, deadline=timedelta(seconds=2))
@given(st.text(alphabet='ab “”"\n', max_size=80))
def test_the_one_pass_quotation_scan_finds_what_the_pattern_finds(text):
    assert deaths.quoted_spans(text) == [m.span() for m in QUOTED.finditer(text)]
