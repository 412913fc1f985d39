"""The fact ledger: facts read through each provider's structured output, kept only when the chapter says them,
valid from their chapter on, and the writer's corrections winning. The model is a local server speaking Ollama's
or OpenAI's API that answers from a small script; the embedded model runs for real."""

import json

import pytest
from django.urls import reverse

from agents.memory import facts
from agents.models import Fact, FactReading
from tests import judge
from tests.factories import cast, make_chapter, make_character, make_story
from tests.llm_servers import serve_ollama, serve_openai

pytestmark = pytest.mark.django_db

ALIVE = "Old Hesketh the miller laughed at the rain and said the wheel would turn by morning."
DROWNED = "The flood came in the night, and Hesketh died in the flood before the wheel could turn."
AGAIN = "At the harvest fair Hesketh said the mill had never ground finer flour."
EYES = "Mara had grey eyes, like her mother."

# What the scripted model reads in a passage: sentence -> facts (quotes copied from the sentence).
SCRIPT = {
    ALIVE: [{"subject": "Hesketh", "subject_kind": "character", "attribute": "condition", "aspect": "",
             "value": "alive", "change": False, "quote": "Hesketh the miller laughed at the rain and said"},
            {"subject": "Hesketh", "subject_kind": "character", "attribute": "occupation", "aspect": "",
             "value": "miller", "change": False, "quote": "Hesketh the miller"}],
    DROWNED: [{"subject": "Hesketh", "subject_kind": "character", "attribute": "condition", "aspect": "",
               "value": "dead", "change": True, "quote": "Hesketh died in the flood"}],
    AGAIN: [{"subject": "Hesketh", "subject_kind": "character", "attribute": "condition", "aspect": "",
             "value": "alive", "change": False, "quote": "Hesketh said the mill had never ground finer flour"}],
    EYES: [{"subject": "Mara", "subject_kind": "character", "attribute": "appearance", "aspect": "eye colour",
            "value": "grey", "change": False, "quote": "Mara had grey eyes"},
           # Invented: no such words in the passage.
           {"subject": "Mara", "subject_kind": "character", "attribute": "appearance", "aspect": "hair",
            "value": "red", "change": False, "quote": "Mara's red hair shone"},
           # A real quote with a value it does not state.
           {"subject": "Mara", "subject_kind": "character", "attribute": "age", "aspect": "",
            "value": "seventeen years old", "change": False, "quote": "Mara had grey eyes"}],
}  # fmt: skip


def scripted(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    if "You keep the fact ledger" in prompt:
        passage = prompt.split("Passage:\n", 1)[1]
        return json.dumps({"facts": [f for sentence, fs in SCRIPT.items() if sentence in passage for f in fs]})
    return judge.reply(body)


@pytest.fixture
def ledger_model(local_server, settings, redis_conn):
    serve_ollama(local_server, reply=scripted)
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", [local_server.url], 0
    return local_server


def fact_requests(server):
    bodies = [r.json() for r in server.requests if r.path == "/api/chat"]
    return [b for b in bodies if "fact ledger" in b["messages"][-1]["content"]]


@pytest.fixture
def mill(user):
    story = make_story(user, title="The Mill")
    chapters = [
        make_chapter(story, title="Rain", content=f"{EYES}\n\n{ALIVE}"),
        make_chapter(story, title="Flood", content=f"It rained for a week.\n\n{DROWNED}"),
        make_chapter(story, title="Fair", content=f"Summer came.\n\n{AGAIN}"),
    ]
    return story, chapters


def test_facts_are_read_with_the_schema_and_kept_only_when_the_chapter_says_them(ledger_model, mill):
    story, (rain, _, _) = mill
    reading = facts.extract(rain)

    [sent] = fact_requests(ledger_model)
    assert sent["format"] == facts.SCHEMA  # Ollama's structured output
    kept = {(f.subject, f.attribute, f.aspect, f.value) for f in Fact.objects.filter(chapter=rain)}
    assert kept == {
        ("Mara", "appearance", "eye colour", "grey"),
        ("Hesketh", "condition", "", "alive"),
        ("Hesketh", "occupation", "", "miller"),
    }
    for fact in Fact.objects.filter(chapter=rain):
        assert rain.content[fact.offset : fact.offset + len(fact.quote)] == fact.quote
    assert reading.facts_found == 3 and reading.model == "llama3.1"


def test_an_unchanged_chapter_is_not_read_again_and_a_changed_one_replaces_its_facts(ledger_model, mill):
    _, (rain, _, _) = mill
    facts.extract(rain)
    facts.extract(rain)
    assert len(fact_requests(ledger_model)) == 1
    rain.content = EYES
    rain.save()
    facts.extract(rain)
    assert len(fact_requests(ledger_model)) == 2
    assert list(Fact.objects.filter(chapter=rain).values_list("subject", flat=True)) == ["Mara"]


def test_the_writer_corrects_pins_and_deletes_and_reading_again_never_undoes_it(ledger_model, mill):
    _, (rain, _, _) = mill
    facts.extract(rain)
    eyes = Fact.objects.get(chapter=rain, aspect="eye colour")
    miller = Fact.objects.get(chapter=rain, attribute="occupation")
    alive = Fact.objects.get(chapter=rain, attribute="condition")
    facts.correct(eyes, "storm-grey")
    facts.reject(miller)
    facts.pin(alive)

    facts.extract(rain, force=True)
    rows = {(f.attribute, f.value, f.origin, f.status) for f in Fact.objects.filter(chapter=rain)}
    assert ("appearance", "storm-grey", "writer", "active") in rows
    assert ("occupation", "miller", "extracted", "rejected") in rows  # the tombstone, and no second copy
    assert sum(1 for r in rows if r[0] == "occupation") == 1
    assert ("condition", "alive", "extracted", "pinned") in rows


def test_a_stated_change_is_valid_from_its_chapter_on(ledger_model, mill):
    _, (rain, flood, fair) = mill
    for chapter in (rain, flood, fair):
        facts.extract(chapter)
    assert facts.candidates(flood) == []  # a death told as it happens is a change, not a contradiction
    before_fair = Fact.objects.valid_before(fair)
    assert before_fair["hesketh|condition|"].value == "dead"
    [pair] = facts.candidates(fair)
    assert (pair.earlier.chapter_id, pair.earlier.value, pair.new.value) == (flood.pk, "dead", "alive")
    assert Fact.objects.valid_before(flood)["hesketh|condition|"].value == "alive"


def test_the_continuity_check_judges_ledger_pairs_and_cites_the_chapter(user, ledger_model, mill, settings):
    from generation.dispatch import start_generation
    from generation.tasks import run_generation

    settings.LANGUAGETOOL_URL = ""
    story, (rain, flood, fair) = mill
    for chapter in (rain, flood):
        facts.extract(chapter)
    task = start_generation(user, story, "check", {}, chapter=fair)
    run_generation(str(task.pk))
    task.refresh_from_db()

    report = task.quality
    [finding] = [f for f in report.findings if f.check == "fact"]
    assert "Hesketh" in finding.message and finding.earlier.chapter == flood.pk
    assert fair.content[finding.offset :].startswith(finding.evidence)
    ledger = next(c for c in report.checks if c.name == "Fact ledger")
    assert ledger.ran and "1 fact(s) differ" in ledger.detail
    assert FactReading.objects.get(chapter=fair).facts_found == 1  # the checked chapter was read for the check


def test_openai_compatible_servers_get_a_json_schema_response_format(local_server, settings, mill, redis_conn):
    serve_openai(local_server, reply=scripted)
    settings.LLM_PROVIDER, settings.OPENAI_BASE_URLS, settings.LLM_RETRIES = "openai", [f"{local_server.url}/v1"], 0
    settings.OPENAI_MODEL = "test-model"
    _, (rain, _, _) = mill
    facts.extract(rain)
    body = next(r.json() for r in local_server.requests if r.path.endswith("/chat/completions"))
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": facts.SCHEMA}}
    assert Fact.objects.filter(chapter=rain).count() == 3


def test_the_built_in_model_is_not_asked_and_the_reading_says_why(settings, mill, redis_conn):
    settings.LLM_PROVIDER = "embedded"
    _, (rain, _, _) = mill
    reading = facts.extract(rain)
    assert reading.note == facts.CAPABLE_MODEL_NOTE and not Fact.objects.filter(chapter=rain).exists()


def test_the_built_in_model_answers_within_the_schema_when_asked(settings, mill, redis_conn):
    settings.LLM_PROVIDER, settings.FACTS_WITH_EMBEDDED_MODEL, settings.FACTS_MAX_TOKENS = "embedded", True, 200
    _, (rain, _, _) = mill
    reading = facts.extract(rain)
    assert reading.model == "SmolLM2-135M-Instruct" and reading.note == ""
    for fact in Fact.objects.filter(chapter=rain):  # whatever it claims, only what the chapter says is kept
        assert rain.content[fact.offset : fact.offset + len(fact.quote)] == fact.quote


def test_the_bible_shows_timelines_and_the_writer_edits_facts(writer_client, other_client, ledger_model, mill, user):
    story, (rain, flood, _) = mill
    mara = make_character(user, name="Hesketh")
    cast(story, mara)
    facts.extract(rain)
    facts.extract(flood)
    html = writer_client.get(reverse("story_bible", args=[story.pk])).content.decode()
    assert "Fact ledger" in html and "Hesketh" in html
    assert html.index(">alive<") < html.index(">dead<")  # chapter order
    dead = Fact.objects.get(value="dead")

    url = reverse("fact_edit", args=[story.pk, dead.pk])
    assert other_client.post(url, {"action": "delete"}).status_code == 404
    writer_client.post(url, {"action": "correct", "value": "drowned"})
    dead.refresh_from_db()
    assert (dead.value, dead.origin) == ("drowned", "writer")
    writer_client.post(url, {"action": "pin"})
    writer_client.post(url, {"action": "delete"})
    dead.refresh_from_db()
    assert dead.status == "rejected"
    assert writer_client.post(url, {"action": "correct", "value": ""}).status_code == 400
    assert writer_client.post(url, {"action": "explode"}).status_code == 400


def test_a_long_chapter_costs_a_bounded_number_of_calls_and_says_so(ledger_model, mill, settings):
    settings.FACTS_WORDS_PER_CALL, settings.FACTS_MAX_CALLS_PER_CHAPTER = 5, 1
    _, (rain, _, _) = mill
    reading = facts.extract(rain)
    assert len(fact_requests(ledger_model)) == 1
    assert reading.note.startswith("This long chapter was read as far as passage 1 of ")
    assert {f.subject for f in Fact.objects.filter(chapter=rain)} == {"Mara"}  # only the first passage's facts
