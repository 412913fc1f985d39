"""The voice-consistency score: calibrated on the project's labelled lines, and in the quality report."""

import itertools
import json
from pathlib import Path

import pytest

from agents.checks import voices
from agents.team.base import AgentContext
from agents.team.quality_assurance import voice_findings
from tests.factories import cast, make_chapter, make_character, make_story

VOICES = json.loads((Path(__file__).parent / "data" / "voices.json").read_text())["characters"]


def test_two_dialogues_of_one_character_are_closer_than_two_characters():
    """Calibration on the labelled set (bench/voices.py reports it, with lines from outside stories)."""
    names = list(VOICES)
    same = [voices.similarity(VOICES[n][:6], VOICES[n][6:]) for n in names]
    different = [voices.similarity(VOICES[a][:6], VOICES[b][6:]) for a, b in itertools.permutations(names, 2)]
    auc = sum(s > d for s in same for d in different) / (len(same) * len(different))
    own_closest = sum(
        max(names, key=lambda m, n=n: voices.similarity(VOICES[n][:6], VOICES[m][6:])) == n for n in names
    )
    assert auc >= 0.85 and own_closest >= 5


def test_lines_are_attributed_only_when_one_speaker_is_named():
    text = "“Aye,” said Brannoch. “Haul away.”\n\n“Do sit down,” Evangeline told Brannoch.\n\n“Where?” asked Pip."
    assert voices.lines_by_speaker(text, ["Brannoch", "Evangeline", "Pip"]) == {
        "Brannoch": ["Aye,", "Haul away."], "Pip": ["Where?"],
    }  # fmt: skip


@pytest.mark.django_db
def test_a_character_who_sounds_like_someone_else_is_a_signal_in_the_report(user):
    story = make_story(user)
    for name in ("Brannoch", "Evangeline", "Pip"):
        cast(story, make_character(user, name=name))
    earlier = "\n\n".join(f"“{line}” said {name}." for name in ("Brannoch", "Evangeline", "Pip")
                          for line in VOICES[name][:6])  # fmt: skip
    chapter = make_chapter(story, title="Aboard", content=earlier)
    ctx = AgentContext(mode="next_chapter", story=story, chapter=chapter)
    # In the draft the captain talks like the lady, and the child like herself.
    draft = "\n\n".join([f"“{line}” said Brannoch." for line in VOICES["Evangeline"][6:]]
                        + [f"“{line}” said Pip." for line in VOICES["Pip"][6:]])  # fmt: skip

    findings, scores = voice_findings(ctx, draft)
    assert (
        scores["Brannoch"]["closest_other"] == "Evangeline" and scores["Brannoch"]["other"] > scores["Brannoch"]["own"]
    )
    assert scores["Pip"]["own"] > scores["Pip"]["other"]
    assert [(f.check, f.severity) for f in findings] == [("voice", "info")]
    assert findings[0].message.startswith("Brannoch's lines here sound closer to how Evangeline spoke earlier")
