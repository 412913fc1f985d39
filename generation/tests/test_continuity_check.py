"""A continuity check of the writer's own chapter, run as a task: against the cast, the earlier chapters and their
notes (never later ones), with the judge played by a local server speaking Ollama's API."""

import json

import pytest
from django.urls import reverse

from agents.checks.continuity_check import capable_model_note
from agents.memory import store as memory
from agents.services.capabilities import BUILT_IN
from generation.dispatch import start_generation
from generation.models import GenerationTask
from generation.tasks import run_generation
from tests import judge
from tests.factories import cast, make_chapter, make_character, make_story
from tests.llm_servers import serve_ollama

pytestmark = pytest.mark.django_db(transaction=True)

FIRST = (
    "Mara had grey eyes and a quick temper, and everyone at the mill knew both. Mara kept the ledger. "
    "Her brother Tomas could not swim; he had never learned to swim, whatever the boys on the quay said. "
    "Mara crossed the yard of the old mill every morning before the bell."
)
CHECKED = (
    "The rain stopped at noon. Mara looked down at the river with her green eyes narrowed against the glare. "
    "Tomas swam out to the moored boat and back without stopping for breath. "
    "By evening Marra had walked home along the towpath."
)
LATER = "Years later, Mara's eyes were blue, or so the songs said."


@pytest.fixture
def judge_server(local_server, settings, redis_conn):
    serve_ollama(local_server, reply=judge.reply)
    settings.LLM_PROVIDER = "ollama"
    settings.OLLAMA_HOSTS = [local_server.url]
    settings.LLM_RETRIES = 0
    settings.GENERATION_SLOTS = 1
    settings.LANGUAGETOOL_URL = ""
    return local_server


@pytest.fixture
def mill_story(user):
    story = make_story(user, title="The Mill")
    first = make_chapter(story, title="The Ledger", content=FIRST)
    checked = make_chapter(story, title="The Flood", content=CHECKED)
    later = make_chapter(story, title="The Songs", content=LATER)
    mara = make_character(user, name="Mara", appearance="Grey eyes, dark hair tied back.")
    tomas = make_character(user, name="Tomas", appearance="Thin, with ink on his fingers.")
    cast(story, mara, role="protagonist", importance=9)
    cast(story, tomas, role="supporting", importance=5)
    for chapter in (first, checked, later):
        memory.sync_chapter(chapter)
    return story, first, checked, later


def check(user, story, chapter, selection=None) -> GenerationTask:
    request = {"selection": selection} if selection else {}
    task = start_generation(user, story, GenerationTask.Mode.CHECK, request, chapter=chapter)
    run_generation(str(task.pk))
    task.refresh_from_db()
    return task


def test_a_hand_written_chapter_is_checked_against_what_came_before(user, judge_server, mill_story):
    story, first, checked, later = mill_story
    task = check(user, story, checked)

    assert task.status == "succeeded" and task.progress == 100 and task.proposal_status == ""
    report = task.quality
    kinds = {f.check for f in report.findings}
    assert {"name_drift", "character_consistency"} <= kinds
    drift = next(f for f in report.findings if f.check == "name_drift")
    assert "“Marra”" in drift.message and "“Mara”" in drift.message
    assert CHECKED[drift.offset : drift.offset + drift.length] == "Marra"
    eyes = [f for f in report.findings if "eye" in f.message.lower()]
    assert eyes and all(CHECKED[f.offset : f.offset + len(f.evidence)] == f.evidence for f in eyes)
    mara = story.characters.get(name="Mara")
    assert any(f.earlier.character == mara.pk and "profile" in f.earlier.source for f in eyes)  # links the profile
    swim = [f for f in report.findings if "swim" in f.message.lower()]
    assert swim and swim[0].earlier.chapter == first.pk
    # Never compared with a later chapter.
    assert all(f.earlier is None or f.earlier.chapter != later.pk for f in report.findings)
    assert [(c.name, c.ran) for c in report.checks] == [
        ("Name spellings", True), ("Appearance and deaths", True), ("Fact ledger", True),
        ("Facts and characters", True), ("Grammar and style", True),
    ]  # fmt: skip
    assert not any(c.note == capable_model_note(BUILT_IN) for c in report.checks)
    checked.refresh_from_db()
    assert checked.content == CHECKED and checked.version == 1  # checking changes nothing


def test_a_selection_is_checked_alone(user, judge_server, mill_story):
    story, _, checked, _ = mill_story
    start = CHECKED.index("Tomas swam")
    end = CHECKED.index("breath.") + len("breath.")
    task = check(user, story, checked, {"start": start, "end": end, "text": CHECKED[start:end]})

    report = task.quality
    assert report.scope == "the selection"
    assert report.findings and all("eye" not in f.message.lower() for f in report.findings)
    assert all("Marra" not in f.message for f in report.findings)
    swim = next(f for f in report.findings if "swim" in f.message.lower())
    assert swim.offset >= start and CHECKED[swim.offset :].startswith(swim.evidence)


def test_an_ignored_finding_never_returns_and_can_be_raised_again(
    user, writer_client, judge_server, mill_story, settings
):
    story, _, checked, _ = mill_story
    task = check(user, story, checked)
    drift = next(f for f in task.quality.findings if f.check == "name_drift")
    writer_client.post(reverse("finding_ignore", args=[task.pk]), {"fingerprint": drift.fingerprint})

    again = check(user, story, checked)
    assert not any(f.check == "name_drift" for f in again.quality.findings)

    ignored = story.ignored_findings.get(fingerprint=drift.fingerprint)
    writer_client.post(reverse("finding_restore", args=[story.pk, ignored.pk]))
    assert any(f.check == "name_drift" for f in check(user, story, checked).quality.findings)


def test_with_the_model_down_the_other_checks_still_report(user, mill_story, settings, redis_conn):
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", ["http://127.0.0.1:9"], 0
    settings.LANGUAGETOOL_URL = ""
    story, _, checked, _ = mill_story
    task = check(user, story, checked)

    assert task.status == "succeeded"
    runs = {c.name: c for c in task.quality.checks}
    assert not runs["Facts and characters"].ran and "Cannot reach Ollama" in runs["Facts and characters"].note
    assert not runs["Fact ledger"].ran and "Cannot reach Ollama" in runs["Fact ledger"].note
    assert runs["Name spellings"].ran and any(f.check == "name_drift" for f in task.quality.findings)


def test_with_the_built_in_model_the_rules_run_and_the_report_says_what_needs_a_capable_one(
    user, mill_story, settings, redis_conn
):
    settings.LLM_PROVIDER = "embedded"
    settings.CONTINUITY_CHECK_MAX_CALLS = 2
    settings.LANGUAGETOOL_URL = ""
    story, _, checked, _ = mill_story
    task = check(user, story, checked)

    assert task.status == "succeeded"
    facts = next(c for c in task.quality.checks if c.name == "Facts and characters")
    assert not facts.ran and facts.note == capable_model_note(BUILT_IN) and facts.detail == "needs a capable model"
    assert not task.steps.get(
        agent="quality_assurance"
    ).model  # the model was never asked: the check takes seconds, not minutes
    ledger = next(c for c in task.quality.checks if c.name == "Fact ledger")
    assert not ledger.ran and "capable model" in ledger.note
    assert any(f.check == "name_drift" for f in task.quality.findings)
    # Eye colour needs no model: the profile's grey against this chapter's green.
    [eyes] = [f for f in task.quality.findings if f.message.startswith("Mara's eyes")]
    assert eyes.message == "Mara's eyes: green here, but grey in Mara's profile, and no change is told."
    assert CHECKED[eyes.offset : eyes.offset + eyes.length] == "green eyes"
    assert eyes.earlier.character == story.characters.get(name="Mara").pk


def test_the_editor_asks_for_a_check_and_shows_its_findings_beside_the_text(
    user, writer_client, judge_server, mill_story
):
    story, _, checked, _ = mill_story
    response = writer_client.post(
        reverse("generate", args=[story.pk]), {"mode": "check", "chapter": checked.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    task = GenerationTask.objects.get(story=story, mode="check")
    run_generation(str(task.pk))

    html = writer_client.get(reverse("chapter_edit", args=[story.pk, checked.pk])).content.decode()
    offset = CHECKED.index("Marra")
    assert f'data-grammar-match data-offset="{offset}" data-length="5" data-original="Marra"' in html
    assert "Continuity check of the whole chapter" in html and "Show in the text" in html
    assert reverse("chapter_edit", args=[story.pk, mill_story[1].pk]) in html  # the cited earlier chapter
    mara = story.characters.get(name="Mara")
    assert f'href="{reverse("character_detail", args=[mara.pk])}"' in html  # the cited profile


def test_the_api_starts_a_check_and_reports_its_findings(user, writer_client, judge_server, mill_story):
    from api.models import ApiToken

    story, _, checked, _ = mill_story
    _, token = ApiToken.issue(user, "checks")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = reverse("api_check_continuity", args=[story.pk, checked.pk])
    start = CHECKED.index("Tomas")
    response = writer_client.post(
        url, json.dumps({"selection_start": start, "selection_end": len(CHECKED)}), "application/json", **auth
    )
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    assert GenerationTask.objects.get(pk=task_id).request["selection"]["text"] == CHECKED[start:]
    run_generation(task_id)

    status = writer_client.get(reverse("api_task_status", args=[task_id]), **auth).json()
    assert status["status"] == "succeeded" and status["scope"] == "the selection"
    assert any(f["check"] == "name_drift" and f["offset"] == CHECKED.index("Marra") for f in status["findings"])
    assert [c["name"] for c in status["checks"]] == [
        "Name spellings", "Appearance and deaths", "Fact ledger", "Facts and characters", "Grammar and style",
    ]  # fmt: skip


def test_other_writers_cannot_check_or_read_a_chapter(user, other_client, judge_server, mill_story):
    story, _, checked, _ = mill_story
    assert other_client.post(reverse("api_check_continuity", args=[story.pk, checked.pk])).status_code == 404
    response = other_client.post(reverse("generate", args=[story.pk]), {"mode": "check", "chapter": checked.pk})
    assert response.status_code == 404
    assert not GenerationTask.objects.filter(story=story).exists()


def test_a_check_needs_a_chapter_and_sane_input(user, writer_client, mill_story, redis_conn):
    story, _, checked, _ = mill_story
    response = writer_client.post(reverse("generate", args=[story.pk]), {"mode": "check"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Open a chapter first" in response.content.decode()
    url = reverse("api_check_continuity", args=[story.pk, checked.pk])
    assert writer_client.post(url, "[1]", "application/json").status_code in (400, 403)
    assert writer_client.post(url, "{", "application/json").status_code in (400, 403)


def test_a_chapter_that_contradicts_itself_is_caught_with_several_pairs_a_call(user, judge_server, mill_story):
    story, _, checked, _ = mill_story
    checked.content = (
        "Ilse Varga had green eyes, sharp as bottle glass. She counted the sacks at the mill door. "
        "The miller waved from the wheel house. Later Ilse Varga rubbed her blue eyes and sighed."
    )
    checked.save()
    task = check(user, story, checked)

    [finding] = [f for f in task.quality.findings if "eye" in f.message.lower()]
    assert finding.earlier.source == "An earlier sentence of this chapter" and finding.earlier.chapter == checked.pk
    assert "this text says" in finding.message and finding.evidence.startswith("Later Ilse Varga")
    judge_prompts = [r.json()["messages"][-1]["content"] for r in judge_server.requests if r.path == "/api/chat"]
    batches = [p for p in judge_prompts if "Each PAIR below" in p]
    assert batches and all(p.count("\nPAIR ") <= 6 for p in batches)
    assert task.quality.consistency["calls"] == len(batches)


def test_a_name_used_once_in_the_main_characters_place_is_questioned_until_the_cast_knows_it(
    user, settings, redis_conn
):
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", ["http://127.0.0.1:9"], 0
    settings.LANGUAGETOOL_URL = ""
    story = make_story(user, title="The Quay")
    first = " ".join(f"At {hour} Idony {verb} the boats." for hour in ("dawn", "noon", "dusk") for verb in (
        "counted", "painted", "watched", "tarred"))  # fmt: skip
    make_chapter(story, title="Boats", content=first)
    text = "Idony pulled the last net aboard. The sea had gone quiet. Wenna looked back at the harbour lights."
    checked = make_chapter(story, title="Lights", content=text)

    [found] = [f for f in check(user, story, checked).quality.findings if f.evidence == "Wenna"]
    assert found.check == "name_drift" and found.severity == "info"
    assert "“Wenna” is named only here, in a passage about Idony (named 13 times)" in found.message
    assert text[found.offset : found.offset + found.length] == "Wenna"
    assert found.earlier.chapter == checked.pk and "Idony pulled" in found.earlier.text

    cast(story, make_character(user, name="Wenna Treloar"), role="supporting", importance=3)
    assert not [f for f in check(user, story, checked).quality.findings if f.evidence == "Wenna"]


def test_dismissing_the_judges_finding_dismisses_the_colour_rules_on_the_same_passage(
    user, writer_client, judge_server, mill_story
):
    story, _, checked, _ = mill_story
    task = check(user, story, checked)
    start = CHECKED.index("green eyes")
    on_eyes = [
        f for f in task.quality.findings
        if f.offset is not None and f.offset <= start < f.offset + (f.length or len(f.evidence))
    ]  # fmt: skip
    eyes = next(f for f in on_eyes if f.same_as)  # the judge's, standing for the rule's too
    writer_client.post(reverse("finding_ignore", args=[task.pk]), {"fingerprint": eyes.fingerprint})
    assert set(story.ignored_findings.values_list("fingerprint", flat=True)) == {eyes.fingerprint, *eyes.same_as}

    again = check(user, story, checked).quality.findings
    assert not [f for f in again if f.fingerprint in {eyes.fingerprint, *eyes.same_as}]


def test_a_character_the_story_killed_who_acts_again_is_flagged_without_a_model(user, settings, redis_conn):
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", ["http://127.0.0.1:9"], 0
    settings.LANGUAGETOOL_URL = ""
    story = make_story(user, title="The Mill")
    fire = make_chapter(story, title="The Fire", content="The mill burned all night. Old Bram died in the fire.")
    text = "The new mill rose by spring. “Bring the lamp,” Old Bram said, shuffling into the kitchen."
    checked = make_chapter(story, title="Spring", content=text)
    cast(story, make_character(user, name="Old Bram"), role="minor", importance=2)

    [dead] = [f for f in check(user, story, checked).quality.findings if "acts here" in f.message]
    assert dead.message == "Old Bram acts here, but died in Chapter 1 “The Fire”, and no return is told."
    assert text[dead.offset :].startswith("Old Bram said") and dead.earlier.chapter == fire.pk
    assert dead.earlier.text == "Old Bram died in the fire."
