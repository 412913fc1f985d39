"""Continuity notes extracted by a model (a local server speaking the Ollama API answers deterministically)."""

import json

import pytest
from django.urls import reverse

from agents.memory import continuity
from agents.models import MemoryItem, MemoryKind
from agents.team import continuation_context
from agents.team.base import AgentContext
from agents.team.messages import AgentMessage
from tests.factories import make_chapter, make_story
from tests.llm_servers import serve_ollama

pytestmark = pytest.mark.django_db

NOTES = {
    "summary": "Mara relights the lamp and sees an answering light at sea.",
    "plot_points": [{"text": "The lighthouse lamp burns again after forty years.", "importance": 8}],
    "threads": [{"summary": "Who answered the lamp from the sea?", "status": "open", "importance": 9}],
    "character_states": {"Mara": "Exhilarated and afraid, at the top of the tower."},
    "relationships": [
        {"source": "Mara", "target": "Tomas", "kind": "rival", "strength": 6, "change": "She defied him."}
    ],
}


@pytest.fixture
def model(local_server, settings, redis_conn):
    answers = []
    serve_ollama(local_server, reply=lambda body: answers.pop(0) if answers else json.dumps(NOTES))
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", [local_server.url], 0
    local_server.answers = answers
    return local_server


@pytest.fixture
def chapter(user):
    story = make_story(user, title="The Keeper")
    return make_chapter(story, title="The Lamp", content="Mara lit the lamp. Far out, a light answered.")


def test_extraction_is_validated_stored_and_remembered(model, chapter):
    stored = continuity.extract(chapter)
    chapter.refresh_from_db()
    assert chapter.continuation_context["summary"] == NOTES["summary"]
    assert chapter.continuation_context["threads"][0]["status"] == "open"
    assert stored["extraction"]["ok"] and stored["extraction"]["model"] == "llama3.1"
    point, state = MemoryItem.objects.filter(chapter=chapter, kind=MemoryKind.PLOT_POINT).order_by("pk")
    assert point.text == NOTES["plot_points"][0]["text"] and point.metadata["importance"] == 8
    assert state.text == "Mara at the end of “The Lamp”: Exhilarated and afraid, at the top of the tower."
    prompt = json.loads(model.requests[0].body)["messages"][0]["content"]
    assert "Mara lit the lamp." in prompt and '"threads"' in prompt


def test_an_invalid_answer_is_asked_again_then_falls_back_to_a_plain_summary(model, chapter):
    model.answers += ["Sure! Here are the notes.", json.dumps(NOTES)]
    assert continuity.extract(chapter)["summary"] == NOTES["summary"]
    model.answers += ["not json", '{"summary": ""}']
    stored = continuity.extract(chapter)
    assert not stored["extraction"]["ok"]
    assert stored["summary"] == NOTES["summary"]  # the earlier good notes are kept
    fresh = make_chapter(chapter.story, title="Fresh", content="The storm broke. Boats ran for the harbour. Then calm.")
    model.answers += ["still not json", "nor this"]
    assert continuity.extract(fresh)["summary"] == "The storm broke. Boats ran for the harbour."
    # The first chapter keeps its earlier plot point and character state.
    assert MemoryItem.objects.filter(chapter=chapter, kind=MemoryKind.PLOT_POINT).count() == 2


def test_the_writers_correction_wins_over_extraction(model, chapter):
    continuity.correct(chapter, "summary", "My own summary.")
    continuity.extract(chapter)
    chapter.refresh_from_db()
    assert chapter.continuation_context["summary"] == "My own summary."
    assert chapter.continuation_context["threads"] == NOTES["threads"]  # other fields still update
    with pytest.raises(ValueError):
        continuity.correct(chapter, "threads", [{"summary": "x", "importance": 99}])


def test_context_assembly_always_includes_unresolved_important_threads(user, chapter):
    continuity.store(chapter, NOTES, extraction_ok=True)
    story = chapter.story
    next_chapter = make_chapter(story, title="Next", content="word " * 3000)
    ctx = AgentContext(mode="continue", story=story, chapter=next_chapter)
    message = AgentMessage("context", "continuation_context", "assemble_context", {"budget": 250, "query": "lamp"})
    output = continuation_context.assemble(ctx, message).output
    titles = [s.title for s in output.sections]
    assert "Open plot threads" in titles
    assert output.used <= 250
    assert "Who answered the lamp from the sea?" in next(s.text for s in output.sections if "threads" in s.title)


def test_the_bible_shows_threads_timelines_and_relationship_changes(writer_client, model, chapter):
    continuity.store(chapter, NOTES, extraction_ok=True)
    html = writer_client.get(reverse("story_bible", args=[chapter.story_id])).content.decode()
    assert NOTES["summary"] in html and "Who answered the lamp from the sea?" in html
    assert "Exhilarated and afraid" in html and "She defied him." in html


def test_correcting_and_refreshing_from_the_bible(
    writer_client, other_client, chapter, redis_conn, django_capture_on_commit_callbacks
):
    url = reverse("chapter_continuity", args=[chapter.story_id, chapter.pk])
    writer_client.post(url, {"summary": "Written by me."})
    chapter.refresh_from_db()
    assert chapter.continuation_context["corrected_fields"] == ["summary"]
    with django_capture_on_commit_callbacks(execute=True):
        writer_client.post(url)
    assert redis_conn.llen("rq:queue:background") == 1
    assert other_client.post(url, {"summary": "Hijack"}).status_code == 404


def test_a_thread_marked_resolved_by_the_writer_stays_resolved(writer_client, model, chapter):
    continuity.store(chapter, NOTES, extraction_ok=True)
    url = reverse("chapter_continuity", args=[chapter.story_id, chapter.pk])
    page = writer_client.get(reverse("story_bible", args=[chapter.story_id])).content.decode()
    assert "Mark resolved" in page
    writer_client.post(url, {"thread": "Who answered the lamp from the sea?", "status": "resolved"})
    continuity.extract(chapter)  # the model still says open
    chapter.refresh_from_db()
    assert chapter.continuation_context["threads"][0]["status"] == "resolved"
    assert "threads" in chapter.continuation_context["corrected_fields"]
    response = writer_client.post(url, {"thread": "No such thread", "status": "resolved"}, follow=True)
    assert "not in this chapter" in response.content.decode()


def test_a_characters_state_corrected_by_the_writer_stays(writer_client, model, chapter):
    continuity.store(chapter, NOTES, extraction_ok=True)
    url = reverse("chapter_continuity", args=[chapter.story_id, chapter.pk])
    writer_client.post(url, {"character": "Mara", "state": "Calm, back in the cottage."})
    continuity.extract(chapter)
    chapter.refresh_from_db()
    assert chapter.continuation_context["character_states"] == {"Mara": "Calm, back in the cottage."}
    remembered = MemoryItem.objects.filter(chapter=chapter, metadata__character_state="Mara").get()
    assert remembered.text == "Mara at the end of “The Lamp”: Calm, back in the cottage."
    bible = writer_client.get(reverse("story_bible", args=[chapter.story_id])).content.decode()
    assert "Calm, back in the cottage." in bible and "Exhilarated" not in bible


def test_a_hand_written_chapter_gets_notes_once_it_settles_and_changed_enough(
    model, chapter, redis_conn, django_capture_on_commit_callbacks
):
    from agents import tasks
    from core.queues import get_queue

    chapter.content = "Mara rowed out alone. " * 30
    with django_capture_on_commit_callbacks(execute=True):
        chapter.save()
    scheduled = get_queue("background").scheduled_job_registry.get_job_ids()
    assert f"read_chapter_notes-{chapter.pk}" in scheduled  # waits CONTINUITY_NOTES_DELAY for the writer to pause

    tasks.read_chapter_notes(chapter.pk)
    chapter.refresh_from_db()
    assert chapter.continuation_context["summary"] == NOTES["summary"]
    asked = len([r for r in model.requests if r.path == "/api/chat"])

    chapter.content += "\n\nShe waved."  # a few words: the notes stand
    chapter.save()
    assert "words changed" in tasks.read_chapter_notes(chapter.pk)
    chapter.content += "\n\n" + "The storm broke over the point and the boat turned back toward the light. " * 4
    chapter.save()
    tasks.read_chapter_notes(chapter.pk)
    assert len([r for r in model.requests if r.path == "/api/chat"]) == asked + 1


def test_with_the_built_in_model_hand_written_chapters_are_not_read(chapter, settings, redis_conn):
    from agents import tasks

    settings.LLM_PROVIDER = "embedded"
    assert tasks.read_chapter_notes(chapter.pk) == "needs a capable model"
    chapter.refresh_from_db()
    assert "summary" not in chapter.continuation_context


def test_a_relationship_change_applied_from_the_bible_updates_the_relationship_with_history(
    writer_client, other_client, model, chapter, user
):
    from characters.models import CharacterRelationship
    from tests.factories import cast, make_character, relate

    mara, tomas = make_character(user, name="Mara"), make_character(user, name="Tomas")
    cast(chapter.story, mara)
    cast(chapter.story, tomas)
    relate(mara, tomas, kind="friend", strength=8)
    continuity.extract(chapter)  # NOTES: Mara → Tomas, rival 6, "She defied him."
    url = reverse("relationship_change_apply", args=[chapter.story.pk, chapter.pk])
    assert other_client.post(url, {"change": 1}).status_code == 404

    html = writer_client.get(reverse("story_bible", args=[chapter.story.pk])).content.decode()
    assert "Apply to the relationship" in html
    writer_client.post(url, {"change": 1})
    [relationship] = CharacterRelationship.objects.filter(source=mara, target=tomas)
    assert (relationship.kind, relationship.strength) == ("rival", 6)
    [entry] = relationship.metadata["history"]
    assert entry["change"] == "She defied him." and entry["before"] == {"kind": "friend", "strength": 8}
    chapter.refresh_from_db()
    assert chapter.continuation_context["relationships"][0]["applied"] is True
    assert "applied" in writer_client.get(reverse("story_bible", args=[chapter.story.pk])).content.decode()
    page = writer_client.get(reverse("story_relationships", args=[chapter.story.pk])).content.decode()
    assert "She defied him." in page
    assert writer_client.post(url, {"change": "x"}).status_code == 400
    response = writer_client.post(url, {"change": 9}, follow=True)
    assert "not in this chapter" in response.content.decode()
