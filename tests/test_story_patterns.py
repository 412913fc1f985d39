"""Patterns and tropes in the story bible: the catalogue, the matcher (meaning and telling words, no model), the
reading kept per story, dismissing, and the bible's buttons for their owner only."""

import json
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.discovery import patterns, tropes
from agents.memory import continuity
from agents.memory.store import sync_chapter
from agents.models import PatternReading, StoryPattern
from agents.tasks import read_story_patterns
from agents.tests.test_search import wait_for
from core.queues import get_queue
from tests.factories import make_chapter, make_story
from tests.llm_servers import serve_ollama

SACRIFICE = (
    "The bridge would not hold them all. Arlen looked back at the others, at Mira carrying the child, and knew "
    "what he had to do. 'Go,' he said. 'I'll hold them off.' He stayed behind at the gate with his sword while "
    "the soldiers came up the road, and he gave his life so that the others could escape across the river. "
    "When Mira reached the far bank she turned and saw him fall."
)
AFFAIR = (
    "Helen found the letters in her husband's coat. They were from a woman called Ruth, and they were not about "
    "business. For a year he had been having an affair behind her back, meeting his mistress in the flat above "
    "the bakery while Helen waited with dinner. She read every letter twice, then sat in the dark kitchen until "
    "she heard his key in the door. 'How long?' she asked. He did not pretend."
)
QUIET = (
    "The morning was grey and the tea was cold. Pell swept the shop floor, counted the buttons in the tin and "
    "wrote the number in the ledger, as she did every Tuesday. A cart went by. The clock ticked. She thought "
    "about painting the door green this year, and decided against it again."
)


def read(story, *texts):
    for text in texts:
        sync_chapter(make_chapter(story, content=text))
    return {p.key: p for p in patterns.read_story(story)}


def test_the_catalogue_is_complete_and_well_formed():
    catalogue = tropes.catalogue()
    assert len(catalogue) >= 60
    assert len({t.key for t in catalogue}) == len(catalogue)
    for trope in catalogue:
        assert trope.description and len(trope.signals) >= 3 and trope.cues, trope.name
        assert trope.part in ("any", "ending") and trope.common in ("often", "sometimes", "rarely")
        assert trope.staple_of, trope.name
        # A wildcard ends a single word: a phrase is looked up whole.
        assert all(" " not in cue for cue in trope.cues if cue.endswith("*")), trope.name
        assert all(len(cue.split()) <= tropes.MAX_CUE_WORDS for cue in trope.cues), trope.name


def test_cues_are_whole_phrases_or_word_beginnings():
    words = tropes.Words("He didn’t look back. She cheated on him; the Sheriff's men were corrupt-ish.")
    assert words.has("didn't look back") and words.has("cheated on")
    assert words.has("cheat*") and words.has("sheriff's") and words.has("corrupt-ish")
    assert not words.has("corrupt") and not words.has("he cheated") and not words.has("look*back")


def test_an_ending_cue_counts_only_in_the_last_quarter():
    passages = ["He dies in the first chapter, or seems to. " * 5] + ["They all went home and had supper. " * 5] * 3
    assert passages[0] not in tropes.ending(passages) and tropes.ending(passages)[-1] == passages[-1]
    downer = tropes.by_key()["downer-ending"]
    assert tropes.cues_found(downer, tropes.Words(" ".join(tropes.ending(passages)))) == []


@settings(max_examples=100, deadline=timedelta(seconds=2))
@given(st.text(max_size=20_000))
def test_reading_any_text_for_cues_is_quick_and_finds_its_own_words(text):
    words = tropes.Words(text)
    for trope in tropes.catalogue()[:5]:
        tropes.cues_found(trope, words)
    for word in tropes.WORD_RE.findall(text.lower().replace("’", "'"))[:20]:
        assert words.has(word)


def test_the_learned_models_cover_every_labelled_pattern_and_read_only_ordinary_words():
    model = tropes.learned()
    assert len(model.rows) == 60 and set(model.rows) <= set(tropes.by_key())
    assert model.direction.shape == (60, 384) and model.wording.shape == (60, len(model.terms))
    assert all(0 < u < 1 for u in model.usual)
    # Names tell which film a synopsis is about, not what happens: no learned term holds one, so a story's
    # character names weigh nothing either way.
    a = "Marcus finds the letters: his wife has been having an affair with Victor, and he begins drinking."
    b = a.replace("Marcus", "Orrin").replace("Victor", "Tamsin")
    assert np.array_equal(tropes.term_weights(a, model), tropes.term_weights(b, model))
    assert not {"marcus", "victor", "john", "batman"} & set(model.terms)
    assert "affair" in model.terms and "an affair" in model.terms


@settings(max_examples=100, deadline=timedelta(seconds=2))
@given(st.text(max_size=20_000))
def test_the_wording_of_any_text_is_read_quickly_into_a_unit_or_empty_vector(text):
    vector = tropes.term_weights(text, tropes.learned())
    assert np.isclose(np.linalg.norm(vector), 1.0) or not vector.any()


def test_a_short_window_is_not_read_by_the_learned_models():
    vector = np.ones((1, 384), np.float32) / np.sqrt(384)
    least = tropes.weights()["learned_from_words"]
    assert tropes.window_of(["Too short for the models to say anything."], vector, 8) is None
    assert tropes.window_of(["word " * least], vector, least) is not None


def test_a_pattern_is_shown_only_with_something_in_the_text_pointing_at_it():
    w = tropes.weights()
    trope = tropes.by_key()["big-bad"]  # used by more stories than the least likelihood
    rare = tropes.by_key()["screw-this-im-outta-here"]  # by fewer
    assert tropes.usual_of(rare) < w["least"] < tropes.usual_of(trope)

    def shown(score, cues=(), words=(), pattern=trope):
        return bool(tropes.shown([tropes.Candidate(pattern, score, 0, 0.5, list(cues), list(words))]))

    assert shown(w["least_with_cue"], cues=["villain"])  # the catalogue's own cue: direct evidence
    assert not shown(w["least_with_cue"] - 0.01, cues=["villain"])
    assert shown(w["least"], words=["leave"], pattern=rare)
    assert not shown(w["least"] - 0.01, words=["leave"], pattern=rare)
    assert shown(tropes.usual_of(trope), words=["henchmen"])
    assert not shown(w["least"], words=["henchmen"])  # no likelier than usual
    assert not shown(0.9)  # nothing in the text points at it
    assert tropes.Candidate(trope, 0.5, 0, 0.5, ["villain"], ["villain", "henchmen"]).telling == [
        "villain",
        "henchmen",
    ]


@pytest.mark.django_db
def test_a_story_is_read_for_the_patterns_it_uses_with_the_passage(user):
    story = make_story(user)
    found = read(story, QUIET, SACRIFICE, AFFAIR)
    assert "heroic-sacrifice" in found and "your-cheating-heart" in found
    sacrifice = found["heroic-sacrifice"]
    assert sacrifice.chapter.content == SACRIFICE and "hold them off" in sacrifice.excerpt
    assert "stays behind" not in sacrifice.cues and "hold them off" in sacrifice.cues
    assert PatternReading.objects.get(story=story).passages == 3
    assert not patterns.is_stale(story)
    make_chapter(story, content="More.")  # not yet in memory: nothing changed for the reading
    assert not patterns.is_stale(story)
    sync_chapter(story.chapters.last())
    assert patterns.is_stale(story)


@pytest.mark.django_db
def test_a_chapters_summary_counts_as_well_as_its_passages(user):
    story = make_story(user)
    chapter = make_chapter(story, content=QUIET)
    sync_chapter(chapter)
    continuity.correct(chapter, "summary", "Arlen stays behind at the bridge to hold them off and gives his life "
                                           "so that the others can escape.")  # fmt: skip
    found = {p.key: p for p in patterns.read_story(story)}
    assert found["heroic-sacrifice"].excerpt.startswith("Arlen stays behind")
    assert found["heroic-sacrifice"].start_offset is None  # a summary has no place in the text
    assert not patterns.is_stale(story)  # summaries are read afresh each time; passages decide staleness


@pytest.mark.django_db
def test_a_quiet_story_has_no_patterns_and_an_empty_one_is_read_without_error(user):
    assert read(make_story(user), QUIET) == {}
    assert read(make_story(user)) == {}


@pytest.mark.django_db
def test_a_dismissed_pattern_stays_dismissed_and_a_pattern_no_longer_found_goes(user):
    story = make_story(user)
    found = read(story, SACRIFICE, AFFAIR)
    StoryPattern.objects.filter(pk=found["your-cheating-heart"].pk).update(dismissed=True)
    again = {p.key for p in patterns.read_story(story)}
    assert "your-cheating-heart" not in again and "heroic-sacrifice" in again
    assert StoryPattern.objects.get(story=story, key="your-cheating-heart").dismissed

    chapter = story.chapters.get(content=SACRIFICE)
    chapter.content = QUIET
    chapter.save()
    sync_chapter(chapter)
    patterns.read_story(story)
    assert not StoryPattern.objects.filter(story=story, key="heroic-sacrifice").exists()
    assert StoryPattern.objects.filter(story=story, key="your-cheating-heart", dismissed=True).exists()


@pytest.mark.django_db
def test_the_bible_lists_patterns_and_the_owner_can_look_again_or_dismiss(
    writer_client, other_client, user, redis_conn, django_capture_on_commit_callbacks
):
    story = make_story(user)
    found = read(story, SACRIFICE)
    bible = writer_client.get(reverse("story_bible", args=[story.pk])).content.decode()
    assert 'data-pattern="heroic-sacrifice"' in bible and "Look again" in bible
    assert "a staple of fantasy" in bible  # the story's genre is Fantasy

    look = reverse("story_patterns", args=[story.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert writer_client.post(look).status_code == 302
    assert f"{read_story_patterns.__name__}-{story.pk}" in get_queue("background").job_ids

    dismiss = reverse("pattern_dismiss", args=[story.pk, found["heroic-sacrifice"].pk])
    assert other_client.post(look).status_code == 404
    assert other_client.post(dismiss).status_code == 404
    assert other_client.get(reverse("story_bible", args=[story.pk])).status_code == 404
    assert writer_client.post(dismiss, {"action": "dismiss"}).status_code == 302
    bible = writer_client.get(reverse("story_bible", args=[story.pk])).content.decode()
    assert 'data-pattern="heroic-sacrifice"' not in bible and "Dismissed (1)" in bible
    writer_client.post(dismiss, {"action": "restore"})
    assert not StoryPattern.objects.get(pk=found["heroic-sacrifice"].pk).dismissed


@pytest.mark.django_db
def test_another_writers_pattern_cannot_be_dismissed_through_ones_own_story(writer_client, user, other_user):
    mine, theirs = make_story(user), make_story(other_user)
    pattern = StoryPattern.objects.create(story=theirs, key="heroic-sacrifice", score=0.1, similarity=0.5)
    assert writer_client.post(reverse("pattern_dismiss", args=[mine.pk, pattern.pk])).status_code == 404
    assert not StoryPattern.objects.get(pk=pattern.pk).dismissed


def test_the_button_reads_the_story_through_a_real_worker(writer_client, user, rq_worker):
    story = make_story(user)
    sync_chapter(make_chapter(story, content=SACRIFICE))
    writer_client.post(reverse("story_patterns", args=[story.pk]))
    assert wait_for(lambda: PatternReading.objects.filter(story=story).exists())
    assert StoryPattern.objects.filter(story=story, key="heroic-sacrifice").exists()


def judged_by_script(body: dict) -> str:
    """A capable model's answer: the sacrifice confirmed with a sentence of its passage, the affair with a sentence
    nobody wrote, anything else left out (so not judged)."""
    prompt = body["messages"][-1]["content"]
    verdicts = []
    if "Pattern heroic-sacrifice:" in prompt:
        verdicts.append({"key": "heroic-sacrifice", "present": True,
                         "quote": "he gave his life so that the others could escape across the river"})  # fmt: skip
    if "Pattern your-cheating-heart:" in prompt:
        verdicts.append({"key": "your-cheating-heart", "present": True, "quote": "Helen stabbed Ruth in the garden."})
    return json.dumps({"patterns": verdicts})


@pytest.fixture
def judging_model(local_server, settings, redis_conn):
    serve_ollama(local_server, reply=judged_by_script)
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", [local_server.url], 0
    return local_server


@pytest.mark.django_db
def test_a_capable_model_confirms_a_pattern_only_with_a_sentence_of_its_passage(writer_client, user, judging_model):
    story = make_story(user)
    shown = read(story, SACRIFICE, AFFAIR)
    assert "heroic-sacrifice" in shown and "your-cheating-heart" not in shown  # its quote is not in its passage
    sacrifice = shown["heroic-sacrifice"]
    assert sacrifice.verdict == "confirmed" and sacrifice.quote.startswith("he gave his life")
    assert StoryPattern.objects.get(story=story, key="your-cheating-heart").verdict == "not_found"
    calls = [r.json() for r in judging_model.requests if r.path == "/api/chat"]
    assert len(calls) == 1 and calls[0]["format"]["required"] == ["patterns"]  # one structured call per reading
    assert PatternReading.objects.get(story=story).judged_by == "llama3.1"
    bible = writer_client.get(reverse("story_bible", args=[story.pk])).content.decode()
    assert "data-confirmed" in bible and 'data-not-found="your-cheating-heart"' in bible


@pytest.mark.django_db
def test_without_a_capable_model_patterns_are_leads_and_the_bible_says_why(writer_client, user, local_server, settings):
    story = make_story(user)
    assert read(story, SACRIFICE)["heroic-sacrifice"].verdict == ""  # the built-in model cannot judge
    assert "cannot judge patterns" in PatternReading.objects.get(story=story).note

    serve_ollama(local_server, models=())  # a server without the model: every call fails
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", [local_server.url], 0
    assert patterns.read_story(story)[0].verdict == ""
    assert "did not answer" in PatternReading.objects.get(story=story).note
    bible = writer_client.get(reverse("story_bible", args=[story.pk])).content.decode()
    assert "did not answer" in bible

    local_server.routes.clear()
    serve_ollama(local_server, reply=lambda body: "What a lovely story about a bridge!")  # prose, not verdicts
    assert patterns.read_story(story)[0].verdict == ""  # left as a lead, not rejected
    assert "other than the verdicts asked for" in PatternReading.objects.get(story=story).note
