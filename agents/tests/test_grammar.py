"""Grammar through the real language-tool-python client against a local server answering like LanguageTool."""

import pytest
from django.urls import reverse

from agents.checks import grammar
from agents.services import llm
from agents.team import quality_assurance
from agents.team.messages import AgentMessage, Draft
from stories.models import DICTIONARY_WORDS
from tests.factories import cast, make_chapter, make_character, make_story, make_world_entry


def test_findings_carry_offsets_and_replacements(languagetool):
    text = "Mara 🐉 climbed teh stairs. Then the the lamp was lit."
    report = grammar.check_grammar(text)
    assert report["available"]
    typo, repeat = report["matches"]
    assert text[typo["offset"] : typo["offset"] + typo["length"]] == "teh" == typo["excerpt"]
    assert typo["replacements"] == ["the"] and typo["rule"] == "MORFOLOGIK_RULE_EN_US"
    assert repeat["excerpt"] == "the the" and repeat["category"] == "MISC"
    check = next(r for r in languagetool.requests if r.path == "/v2/check").form()
    assert check["language"] == "en-US" and check["text"] == text


def test_languagetool_checks_in_the_story_dialect_and_leaves_names_alone(languagetool):
    report = grammar.check_grammar("Teh stone of teh Teh.", dialect="en-GB", names=["Teh"])
    assert report["checker"] == "LanguageTool" and report["matches"] == []
    check = next(r for r in languagetool.requests if r.path == "/v2/check").form()
    assert check["language"] == "en-GB"


def test_without_a_server_the_built_in_checker_finds_mistakes_offline(settings):
    settings.LANGUAGETOOL_URL = ""
    text = "Their going to the harbor tomorow, dont worry. The the boat is ready."
    report = grammar.check_grammar(text)
    assert report["available"] and report["checker"] == "Harper" and report["note"] == ""
    found = {m["excerpt"]: m for m in report["matches"]}
    assert {"Their", "tomorow", "dont", "The the"} <= set(found)
    for match in report["matches"]:
        assert text[match["offset"] : match["offset"] + match["length"]] == match["excerpt"]
    assert "tomorrow" in found["tomorow"]["replacements"] and "don't" in found["dont"]["replacements"]
    assert found["The the"]["replacements"] == ["The"]


def test_small_caps_and_underline_markup_is_not_checked_as_prose(settings):
    settings.LANGUAGETOOL_URL = ""
    text = "At noon [Mr. Hale]{.smallcaps} was [never]{.underline} late. [He]{.smallcaps} came [tomorow]{.underline}."
    report = grammar.check_grammar(text)
    assert [m["excerpt"] for m in report["matches"]] == ["tomorow"]  # a mistake inside the formatting still counts
    assert text[report["matches"][0]["offset"] :].startswith("tomorow]")  # offsets still point into the text


def test_the_story_dialect_decides_what_is_a_misspelling(settings):
    settings.LANGUAGETOOL_URL = ""
    text = "The colour of the harbour changed."
    british = grammar.check_grammar(text, dialect="en-GB")["matches"]
    american = {m["excerpt"] for m in grammar.check_grammar(text, dialect="en-US")["matches"]}
    assert british == [] and {"colour", "harbour"} <= american


def test_the_story_names_are_not_misspellings(settings):
    settings.LANGUAGETOOL_URL = ""
    text = "Varyn Oszkarth met Quillon at the Brennick gate."
    flagged = {m["excerpt"] for m in grammar.check_grammar(text)["matches"]}
    assert {"Varyn", "Quillon"} <= flagged  # unknown words to a dictionary
    masked = grammar.check_grammar(text, names=["Varyn Oszkarth", "Quillon", "Brennick"])["matches"]
    assert masked == []


def test_names_of_several_words_and_their_possessives_are_the_storys_own(settings, user):
    settings.LANGUAGETOOL_URL = ""
    text = "Old Ness mended the the nets. Ness's boat was late, and the Gullwarden’s bell rang."
    found = {m["excerpt"] for m in grammar.check_grammar(text)["matches"]}
    assert {"Old Ness", "Ness's"} <= found  # without the story's names, the checker takes them for mistakes
    story = make_story(user)
    cast(story, make_character(user, name="Old Ness"))
    make_world_entry(story, name="The Bell", metadata={"keys": ["Gullwarden"]})
    kept = grammar.check_story_text(story, text)["matches"]
    assert not {"Old Ness", "Ness's", "Gullwarden’s"} & {m["excerpt"] for m in kept}
    assert [m["excerpt"] for m in kept] == ["the the"]  # mistakes beside the names are still found


def test_names_the_chapters_establish_are_known_before_anyone_adds_them_to_the_cast(settings, user):
    settings.LANGUAGETOOL_URL = ""
    story = make_story(user)  # no cast, no world: an imported manuscript, say
    make_chapter(story, content="The ferry left without Dextry. Nobody asked after Dextry until the rain came.")
    text = "Dextry came back at dusk, and the dogs knew Dextry before Mara did. Brannoc waved from the quay."
    assert {"Dextry"} <= {m["excerpt"] for m in grammar.check_grammar(text)["matches"]}
    flagged = {m["excerpt"] for m in grammar.check_story_text(story, text)["matches"]}
    # Named mid-sentence three times across the story: a name. Brannoc, seen once, may yet be a slip.
    assert "Dextry" not in flagged and "Brannoc" in flagged


def test_a_server_that_is_down_hands_over_to_the_built_in_checker(settings):
    settings.LANGUAGETOOL_URL = "http://127.0.0.1:9"
    grammar._tool.cache_clear()
    report = grammar.check_grammar("Mara climbed the stairs tomorow.")
    assert report["checker"] == "Harper" and "did not answer" in report["note"]
    assert [m["excerpt"] for m in report["matches"]] == ["tomorow"]


def test_a_long_chapter_is_checked_quickly(settings):
    import time

    settings.LANGUAGETOOL_URL = ""
    grammar.check_grammar("Warm up.")
    text = " ".join(["The keeper climbed the stairs and lit the lamp before the ships came in."] * 1400)
    started = time.perf_counter()
    grammar.check_grammar(text)
    assert time.perf_counter() - started < 5  # about 20,000 words; well under a second on a laptop


class FakeContext:
    """The quality agent only needs the story for character checks; an unsaved story has no memory."""

    def __init__(self, story):
        self.story = story
        self.chapter = None
        self.target = llm.resolve(story=story)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typos, verdict",
    [(0, "pass"), (1, "pass"), (5, "warn"), (15, "fail")],
)
def test_grammar_thresholds_decide_the_verdict(languagetool, typos, verdict):
    from tests.factories import make_story, make_user

    words = [f"w{i}" for i in range(100)]
    for position in range(0, typos * 6, 6):  # spaced out, so no two typos repeat each other
        words[position] = "teh"
    text = " ".join(words) + "."
    message = AgentMessage(
        "check", "quality_assurance", "check", {"draft": "write"}, context={"write": Draft(text=text)}
    )
    output = quality_assurance.check(FakeContext(make_story(make_user())), message).output
    assert output.verdict == verdict
    assert len(output.grammar["matches"]) == typos
    if typos:
        assert output.findings[-1].check == "grammar"


@pytest.mark.django_db
def test_without_languagetool_the_other_checks_still_run(settings):
    from tests.factories import make_story, make_user

    settings.LANGUAGETOOL_URL = ""
    message = AgentMessage("check", "quality_assurance", "check", {"draft": "write"}, context={"write": Draft(text="")})
    output = quality_assurance.check(FakeContext(make_story(make_user())), message).output
    assert output.verdict == "fail" and output.findings[0].message == "The draft is empty."


def test_the_writer_adds_a_word_to_the_storys_dictionary_and_grammar_leaves_it_alone(writer_client, user, settings):
    settings.LANGUAGETOOL_URL = ""
    story = make_story(user)
    text = "The zorblat hummed in the dark."
    assert [m["excerpt"] for m in grammar.check_story_text(story, text)["matches"]] == ["zorblat"]
    url = reverse("dictionary_add", args=[story.pk])
    answer = writer_client.post(url, {"word": "zorblat"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "in this story's dictionary" in answer.content.decode()
    writer_client.post(url, {"word": "zorblat"})  # twice is once
    story.refresh_from_db()
    assert story.settings.dictionary == ["zorblat"]
    assert grammar.check_story_text(story, text)["matches"] == []
    page = writer_client.get(reverse("story_edit", args=[story.pk])).content.decode()
    assert "zorblat</textarea>" in page  # seen and edited, one a line, in the story's settings


def test_a_full_dictionary_refuses_more_with_a_reason(writer_client, user):
    story = make_story(user, generation_settings={"dictionary": [f"w{n}" for n in range(DICTIONARY_WORDS)]})
    refused = writer_client.post(reverse("dictionary_add", args=[story.pk]), {"word": "one-more"})
    assert refused.status_code == 400 and "dictionary is full" in refused.content.decode()
