"""Character consistency and plot holes.

A labelled set of description/mention pairs (agents/tests/data/consistency_pairs.json: 17 contradicting, 23
consistent, with hard cases: the same words stating opposite facts, different words stating the same fact) is
scored three ways: similarity alone (the approach this replaces), the judge played by a deterministic local
server, and the embedded SmolLM2 model. Then a three-chapter story whose third chapter contradicts the first.
"""

import pytest

from agents.checks import consistency
from agents.memory import store as memory
from agents.models import IgnoredFinding
from agents.team import quality_assurance
from agents.team.base import AgentContext
from agents.team.messages import AgentMessage, Draft
from agents.tests.consistency_set import LABELS, PAIRS, cosines, judged_contradiction, scores, similarity_alone
from characters.models import Character, StoryCharacter
from tests import judge
from tests.factories import make_chapter, make_story
from tests.llm_servers import serve_ollama


def judge_all(story=None) -> list[bool]:
    return [bool(judged_contradiction(pair, story=story)) for pair in PAIRS]


@pytest.fixture
def judge_model(local_server, settings, redis_conn):
    serve_ollama(local_server, reply=judge.reply)
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", [local_server.url], 0
    return local_server


def test_similarity_alone_cannot_tell_a_contradiction(redis_conn):
    similarity, _, _ = cosines()
    baseline = similarity_alone(similarity)
    at_085, best = baseline["at_0.85"], baseline["best"]
    print(f"\nsimilarity alone on {len(PAIRS)} labelled pairs: at 0.85 {at_085}; best {best}")
    # Flagging whatever is less similar than 0.85 flags everything; no threshold gets near the judge below.
    assert at_085["accuracy"] < 0.5 and best["accuracy"] < 0.8


def test_the_similarity_gate_passes_every_labelled_pair_and_stops_strangers(redis_conn, settings):
    similarity, earlier, new = cosines()
    gate = settings.QA_RELATED_MIN_SIMILARITY
    missed = [p["new"] for p, s in zip(PAIRS, similarity, strict=True) if p["label"] == "contradiction" and s < gate]
    assert not missed, f"contradictions the gate would never show the judge: {missed}"
    # Each description against mentions of other people: these should not cost a judgement.
    strangers = [
        float(earlier[i] @ new[j])
        for i in range(len(PAIRS))
        for j in range(len(PAIRS))
        if PAIRS[i]["subject"] != PAIRS[j]["subject"]
    ]
    passed = sum(s >= gate for s in strangers) / len(strangers)
    lowest = similarity[LABELS].min()
    print(f"\ngate {gate}: lowest labelled contradiction {lowest:.3f}; strangers passing {passed:.1%}")
    assert passed < 0.05


@pytest.mark.django_db
def test_the_labelled_pairs_with_a_deterministic_judge(judge_model):
    result = scores(judge_all())
    print(f"\njudge (deterministic local server) on {len(PAIRS)} labelled pairs: {result}")
    # This judge reads every fact in the set correctly, so anything short of it is the app's fault: lost
    # context in the prompt, a parsing slip, or the grounding check throwing away a true contradiction.
    assert result["precision"] >= 0.95 and result["recall"] >= 0.95 and result["accuracy"] >= 0.95


@pytest.mark.django_db
def test_the_labelled_pairs_with_the_embedded_model(settings, redis_conn):
    settings.LLM_PROVIDER = "embedded"
    result = scores(judge_all())
    print(f"\njudge (embedded SmolLM2-135M) on {len(PAIRS)} labelled pairs: {result}")
    # A 135M model mostly repeats the prompt's example. What must hold is that the grounding check keeps that
    # from reaching the writer: at most one in ten consistent pairs may be flagged.
    consistent = LABELS.count(False)
    assert result["false_alarms"] <= consistent // 10


# -- a story whose third chapter contradicts the first -------------------------------------------------------

CHAPTER_1 = (
    "Mara had kept the light at Kell for six winters, with Old Bram to mend the lamp and grumble at the gulls.\n\n"
    "That autumn the storm came in from the west. The storm destroyed the lighthouse; only the foundations "
    "remain. Old Bram died in the fire at the mill the same night, and the village buried him on the hill."
)
CHAPTER_2 = (
    "Mara moved into the harbour master's loft. She spent her days mending nets and her nights watching the "
    "dark where the light had been. The harbour master was kind and asked her nothing."
)
CONTRADICTING = (
    "Mara looked up, her blue eyes narrowing at the stranger on the quay. "
    '"Bring the lamp," Old Bram said, shuffling into the kitchen. '
    "Later they climbed the winding stairs of the lighthouse and lit the great lamp."
)
CONSISTENT = (
    "Mara looked up, her green eyes narrowing at the stranger on the quay. "
    "She thought of Old Bram, dead and buried on the hill, and of the lighthouse in ruins. "
    "The harbour master asked her nothing, as always."
)


@pytest.fixture
def saga(user):
    story = make_story(user, title="The Light at Kell", genre="Literary fantasy")
    for name, appearance in (("Mara", "Mara has green eyes and a thin scar along her jaw."), ("Old Bram", "")):
        character = Character.objects.create(owner=user, name=name, appearance=appearance)
        StoryCharacter.objects.create(story=story, character=character, role="supporting", importance=5)
    make_chapter(story, title="The Storm", content=CHAPTER_1)
    make_chapter(story, title="The Loft", content=CHAPTER_2)
    memory.sync_story(story)
    return story


@pytest.mark.django_db
def test_chapter_three_contradicting_chapter_one_is_found_and_cited(judge_model, saga):
    chapter = make_chapter(saga, title="The Stranger", content=CONTRADICTING)
    findings, judging = consistency.contradictions(saga, chapter.content, chapter=chapter)
    by_subject = {(f.check, f.message.split(" (")[0]): f for f in findings}

    eyes = by_subject[("character_consistency", "Mara")]
    assert eyes.earlier.source == "Mara's profile: appearance" and "green eyes" in eyes.message
    assert eyes.evidence.startswith("Mara looked up, her blue eyes")
    assert chapter.content[eyes.offset :].startswith("Mara looked up")

    ghost = by_subject[("character_consistency", "Old Bram")]
    assert ghost.earlier.source == "Chapter 1 “The Storm”" and "Old Bram died" in ghost.earlier.text
    assert ghost.earlier.chapter == saga.chapters.get(order=1).pk

    place = next(f for f in findings if f.check == "continuity")
    assert "lighthouse" in place.message and "The storm destroyed the lighthouse" in place.earlier.text
    assert place.evidence.startswith("Later they climbed")
    assert len(findings) == 3, findings
    assert judging["unanswered"] == 0 and judging["judged"]


@pytest.mark.django_db
def test_a_consistent_chapter_three_raises_nothing(judge_model, saga):
    chapter = make_chapter(saga, title="The Stranger", content=CONSISTENT)
    findings, judging = consistency.contradictions(saga, chapter.content, chapter=chapter)
    assert findings == []
    assert judging["judged"], "the chapter names Mara and Old Bram: their facts must have been compared"


@pytest.mark.django_db
def test_a_later_chapter_is_never_cited(judge_model, saga):
    first = saga.chapters.get(order=1)
    findings, _ = consistency.contradictions(saga, CONTRADICTING, chapter=first)
    assert all(f.earlier.chapter in (None, first.pk) for f in findings)
    assert not any(f.earlier.source.startswith("Chapter 2") for f in findings)


@pytest.mark.django_db
def test_the_quality_gate_fails_a_contradiction_and_an_ignored_finding_stays_ignored(judge_model, saga, user):
    chapter = make_chapter(saga, title="The Stranger", content="")
    ctx = AgentContext(mode="continue", story=saga, chapter=chapter)
    message = AgentMessage("check", "quality_assurance", "check", {"draft": "write", "target_words": 40})
    message.context = {"write": Draft(text=CONTRADICTING)}

    report = quality_assurance.check(ctx, message).output
    assert report.verdict == "fail"
    assert report.genre == {"answered": True, "score": 4, "note": "Fits the genre."}
    assert report.signals["character_similarity"]["Mara"] > 0
    eyes = next(f for f in report.findings if f.check == "character_consistency" and "Mara" in f.message)
    # The colour rule found the same passage: the judge's finding stands for both, and dismissing it (as
    # GenerationTask.ignore_finding does) dismisses both.
    assert len(eyes.same_as) == 1 and not any(f.message.startswith("Mara's eyes:") for f in report.findings)

    for key in (eyes.fingerprint, *eyes.same_as):
        IgnoredFinding.objects.create(story=saga, fingerprint=key, kind=eyes.check, message="x")
    again = quality_assurance.check(ctx, message).output
    assert eyes.fingerprint not in {f.fingerprint for f in again.findings}
    assert len(again.findings) == len(report.findings) - 1


@pytest.mark.django_db
def test_the_embedded_model_checks_the_story_without_inventing_facts(settings, redis_conn, saga):
    settings.LLM_PROVIDER = "embedded"
    chapter = make_chapter(saga, title="The Stranger", content=CONTRADICTING)
    findings, judging = consistency.contradictions(saga, chapter.content, chapter=chapter)
    print(f"\nembedded model on the three-chapter story: {len(judging['judged'])} pairs judged, findings:")
    for f in findings:
        print(" -", f.message)
    assert judging["judged"]
    for f in findings:  # whatever it reports is quoted from the two texts
        assert f.evidence in chapter.content
        assert f.earlier.source in {"Mara's profile: appearance", "Chapter 1 “The Storm”", "Chapter 2 “The Loft”"}


def test_a_sentence_going_on_with_she_or_he_is_about_the_character_just_named():
    sentences = [
        "Mara stepped onto the quay.", "Her blue eyes narrowed.", "The gulls cried.", "She waited.",
        "Mara and Old Bram argued.", "She left.", "Old Bram lit his pipe.", "Mara watched him.",
    ]  # fmt: skip
    cast = ["Mara", "Old Bram"]
    assert consistency.referring_to("Mara", sentences, cast) == [0, 1, 4, 7]
    assert consistency.referring_to("Old Bram", sentences, cast) == [4, 6]


@pytest.mark.django_db
def test_a_contradiction_told_with_a_pronoun_is_found(judge_model, saga):
    text = "Mara stepped onto the quay at dusk. Her blue eyes narrowed at the stranger."
    chapter = make_chapter(saga, title="The Stranger", content=text)
    findings, _ = consistency.contradictions(saga, text, chapter=chapter)
    [eyes] = [f for f in findings if f.check == "character_consistency"]
    assert eyes.message.startswith("Mara (eye colour)") and eyes.evidence.startswith("Her blue eyes")
