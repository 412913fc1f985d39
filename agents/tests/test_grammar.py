"""Grammar through the real language-tool-python client against a local server answering like LanguageTool."""

import pytest

from agents import grammar, quality_assurance
from agents.messages import AgentMessage, Draft


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


def test_no_server_configured_is_said_plainly(settings):
    settings.LANGUAGETOOL_URL = ""
    report = grammar.check_grammar("Any text.")
    assert not report["available"] and "no LanguageTool server is configured" in report["note"]


def test_a_server_that_is_down_is_said_plainly(settings):
    settings.LANGUAGETOOL_URL = "http://127.0.0.1:9"
    grammar._tool.cache_clear()
    report = grammar.check_grammar("Any text.")
    assert not report["available"] and "did not answer" in report["note"]


class FakeContext:
    """The quality agent only needs the story for character checks; an unsaved story has no memory."""

    def __init__(self, story):
        self.story = story
        self.chapter = None


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
