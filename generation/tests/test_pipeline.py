"""The agent pipeline in this process, with the LLM served by a local server speaking the Ollama API."""

import threading
import time

import pytest
from django.utils import timezone
from rq import Queue

from generation.dispatch import dispatch, fair_order, place_in_line, start_generation
from generation.models import GenerationStep, GenerationTask, ProposalConflict
from generation.tasks import run_generation
from stories.models import Chapter, ChapterRevision
from tests.factories import make_story, make_user

from .conftest import prose

pytestmark = pytest.mark.django_db(transaction=True)


def request_for(chapter, **extra):
    return {"note": "", "cursor": len(chapter.content), "before_cursor": chapter.content[-200:],
            "base_version": chapter.version, **extra}  # fmt: skip


def run(user, story, chapter, mode="next_chapter", **extra):
    task = start_generation(user, story, mode, request_for(chapter, **extra), chapter=chapter)
    run_generation(str(task.pk))
    task.refresh_from_db()
    return task


def chat_bodies(server):
    return [r.json() for r in server.requests if r.path == "/api/chat"]


def writer_bodies(server):
    """The narrative writer's requests (streamed), without the quality checks' judgements."""
    return [body for body in chat_bodies(server) if is_writer(body)]


def is_writer(body) -> bool:
    return body["messages"][0]["role"] == "system"


def test_a_request_runs_through_every_agent(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    task = run(user, story, chapter, note="Mara lights the lamp.")

    assert task.status == "succeeded" and task.progress == 100 and task.error == ""
    steps = {s.key: s for s in task.steps.all()}
    assert {"plan", "world", "context", "write", "check", "gate-0", "world-proposals"} <= set(steps)
    assert {s.agent for s in steps.values()} == {
        "creative_director", "world_building", "continuation_context", "narrative_intelligence", "quality_assurance",
    }  # fmt: skip
    assert all(s.status == "succeeded" and s.duration_ms is not None for s in steps.values())
    assert steps["write"].model == "llama3.1" and steps["write"].completion_tokens > 50
    assert steps["plan"].reason and steps["gate-0"].reason == "The draft passed every check."
    assert task.result_content == prose(120) and task.proposal_status == "pending"
    assert task.quality_report["verdict"] == "pass", task.quality_report["findings"]

    sent = writer_bodies(fake_ollama)[0]["messages"]
    assert "third person limited" in sent[0]["content"] and "Mara: Short, dry." in sent[0]["content"]
    assert "Mara lights the lamp." in sent[1]["content"] and "The ship docked at dawn." in sent[1]["content"]
    titles = [s["title"] for s in task.context_report["sections"]]
    assert titles == ["Premise", "Characters", "Recent text: The Stairs"]
    assert task.model_name == "llama3.1"  # the model that wrote the draft, kept with the task beside its rating


def test_world_building_and_context_run_in_parallel(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    task = run(user, story, chapter)
    world, context = task.steps.get(key="world"), task.steps.get(key="context")
    write = task.steps.get(key="write")
    assert world.started_at < context.finished_at and context.started_at < world.finished_at
    assert write.started_at >= max(world.finished_at, context.finished_at)


def test_a_failed_draft_is_rewritten_with_the_critique(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    replies = iter(["Too short.", prose(120)])
    fake_ollama.state["reply"] = lambda body: next(replies) if is_writer(body) else '{"score": 4, "note": ""}'
    task = run(user, story, chapter)

    assert task.status == "succeeded" and task.result_content == prose(120)
    gate = task.steps.get(key="gate-0")
    assert gate.output["action"] == "retry" and "rewrite 1 of 2" in gate.reason
    second_prompt = writer_bodies(fake_ollama)[1]["messages"][1]["content"]
    assert "An editor read your previous draft" in second_prompt and "The draft has 2 words" in second_prompt
    assert task.steps.get(key="check-retry-1").output["verdict"] == "pass"


def test_rewrites_are_bounded_and_the_writer_decides(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    fake_ollama.state["reply"] = lambda body: "Too short."
    task = run(user, story, chapter)
    assert task.status == "succeeded"
    assert len(writer_bodies(fake_ollama)) == 3  # the draft and two rewrites
    assert "Still failing after 2 rewrites" in task.steps.get(key="gate-2").reason
    assert task.quality_report["verdict"] == "fail" and task.proposal_status == "pending"


def test_the_llm_server_down_fails_the_task_with_the_fix(user, fake_ollama, story_with_cast, settings):
    settings.OLLAMA_HOSTS = ["http://127.0.0.1:9"]
    story, chapter = story_with_cast
    task = run(user, story, chapter)
    assert task.status == "failed"
    assert "Cannot reach Ollama" in task.error and "ollama serve" in task.error
    assert task.steps.get(key="write").status == "failed"
    assert Chapter.objects.get(pk=chapter.pk).content == chapter.content  # nothing touched


def test_garbage_from_the_llm_fails_cleanly(user, fake_ollama, story_with_cast):
    fake_ollama.routes[("POST", "/api/chat")] = lambda r: (200, {"Content-Type": "application/x-ndjson"}, "{oops")
    story, chapter = story_with_cast
    task = run(user, story, chapter)
    assert task.status == "failed" and "not a chat reply" in task.error


def test_cancelling_a_running_generation(user, fake_ollama, story_with_cast, local_server):
    from tests.llm_servers import serve_ollama

    serve_ollama(local_server, reply=lambda body: prose(400), token_delay=0.02)
    story, chapter = story_with_cast
    task = start_generation(user, story, "next_chapter", request_for(chapter), chapter=chapter)

    def cancel_soon():
        time.sleep(1.0)
        GenerationTask.objects.get(pk=task.pk).request_cancel()

    threading.Thread(target=cancel_soon).start()
    started = time.monotonic()
    run_generation(str(task.pk))
    task.refresh_from_db()
    assert task.status == "cancelled" and time.monotonic() - started < 6
    assert task.proposal_status == "" and task.partial_content  # what was written so far is kept, not applied


def test_a_queued_task_cancels_at_once(user, story_with_cast):
    story, chapter = story_with_cast
    task = GenerationTask.objects.create(user=user, story=story, chapter=chapter)
    task.request_cancel()
    assert task.status == "cancelled"
    run_generation(str(task.pk))  # a job that was already queued does nothing
    task.refresh_from_db()
    assert task.status == "cancelled" and not task.steps.exists()


def test_running_a_job_twice_is_harmless(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    task = run(user, story, chapter)
    requests = len(chat_bodies(fake_ollama))
    run_generation(str(task.pk))
    task.refresh_from_db()
    assert task.status == "succeeded" and len(chat_bodies(fake_ollama)) == requests


def test_an_abandoned_task_resumes_from_its_last_completed_step(user, fake_ollama, story_with_cast, settings):
    story, chapter = story_with_cast
    task = run(user, story, chapter)
    world_started = task.steps.get(key="world").started_at
    # The worker "died" while writing: steps after the context are lost, the heartbeat went quiet.
    task.steps.exclude(key__in=["plan", "world", "context"]).delete()
    GenerationTask.objects.filter(pk=task.pk).update(
        status="running", heartbeat_at=timezone.now() - timezone.timedelta(seconds=600), proposal_status="",
        plan=[step for step in task.plan if step["key"] in ("world", "context", "write", "check")],
    )  # fmt: skip
    dispatch()  # finds it abandoned and queues it again
    task.refresh_from_db()
    assert task.status == "queued" and "resuming" in task.error
    run_generation(str(task.pk))
    task.refresh_from_db()
    assert task.status == "succeeded" and task.attempts == 2
    assert task.steps.get(key="world").started_at == world_started  # not run again
    assert task.steps.get(key="write").status == "succeeded"


def test_a_task_abandoned_too_often_fails_with_the_reason(user, story_with_cast, settings):
    story, chapter = story_with_cast
    task = GenerationTask.objects.create(
        user=user, story=story, chapter=chapter, status="running", attempts=settings.GENERATION_MAX_ATTEMPTS,
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1), current_agent="narrative_intelligence",
    )  # fmt: skip
    dispatch()
    task.refresh_from_db()
    assert task.status == "failed" and "worker stopped during the narrative_intelligence step" in task.error


def test_accepting_a_next_chapter_adds_it_after_the_current_one(user, fake_ollama, story_with_cast, redis_conn):
    story, chapter = story_with_cast
    later = Chapter.objects.create(story=story, title="Later", order=chapter.order + 1, content="Later text.")
    task = run(user, story, chapter, chapter_title="The Lamp")
    new = task.accept_proposal(user)
    assert list(story.chapters.values_list("title", flat=True)) == ["The Stairs", "The Lamp", "Later"]
    assert new.content == prose(120)
    revision = new.revisions.get()
    assert revision.source == ChapterRevision.Source.AGENT and revision.author == user
    with pytest.raises(ProposalConflict):
        task.accept_proposal(user)  # only once
    assert Chapter.objects.get(pk=later.pk).content == "Later text."
    background = Queue("background", connection=redis_conn).jobs
    assert any(job.func_name == "agents.tasks.extract_continuity" and job.args == (new.pk,) for job in background)


def test_continuing_inserts_at_the_cursor_and_keeps_a_revision(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    cursor = chapter.content.index("\n\n")
    task = run(user, story, chapter, mode="continue", cursor=cursor, before_cursor=chapter.content[:cursor])
    updated = task.accept_proposal(user, text="She waved.")
    assert updated.content == "The ship docked at dawn.\n\nShe waved.\n\nMara watched it from the rocks."
    assert updated.revisions.count() == 2 and updated.revisions.first().source == "agent"


def test_rewriting_replaces_the_selection_only_if_it_is_unchanged(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    selection = {"start": 0, "end": 24, "text": "The ship docked at dawn."}
    task = run(user, story, chapter, mode="rewrite", selection=selection)
    chapter.save_content("The boat arrived early.\n\nMara watched it.", base_version=chapter.version)
    with pytest.raises(ProposalConflict, match="changed since"):
        task.accept_proposal(user)
    assert Chapter.objects.get(pk=chapter.pk).content == "The boat arrived early.\n\nMara watched it."

    task2 = run(user, story, Chapter.objects.get(pk=chapter.pk), mode="rewrite",
                selection={"start": 0, "end": 23, "text": "The boat arrived early."})  # fmt: skip
    assert task2.accept_proposal(user, text="Dawn brought the ship.").content.startswith("Dawn brought the ship.\n\n")


def test_brainstorming_is_not_checked_and_cannot_be_inserted(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    task = run(user, story, chapter, mode="brainstorm")
    assert task.status == "succeeded" and not task.steps.filter(agent="quality_assurance").exists()
    with pytest.raises(ProposalConflict, match="ideas"):
        task.accept_proposal(user)


def test_fair_order_is_round_robin_between_writers():
    greedy, patient, late = make_user(), make_user(), make_user()
    story_g, story_p, story_l = make_story(greedy), make_story(patient), make_story(late)
    tasks = [GenerationTask.objects.create(user=greedy, story=story_g) for _ in range(5)]
    tasks.append(GenerationTask.objects.create(user=patient, story=story_p))
    tasks.append(GenerationTask.objects.create(user=late, story=story_l))
    order = [t.user for t in fair_order(tasks, {})]
    assert order[:3] == [greedy, patient, late] and order[3:] == [greedy] * 4
    assert place_in_line(tasks[5]) == 2  # the patient writer goes second, not sixth


def test_dispatch_respects_the_per_writer_limit_and_free_slots(settings, redis_conn):
    settings.GENERATION_SLOTS, settings.GENERATION_PER_USER = 3, 1
    greedy, other = make_user(), make_user()
    for _ in range(4):
        GenerationTask.objects.create(user=greedy, story=make_story(greedy))
    GenerationTask.objects.create(user=other, story=make_story(other))
    chosen = dispatch()
    assert sorted(t.user_id for t in chosen) == sorted([greedy.pk, other.pk])  # one each, a slot left unused
    assert dispatch() == []  # nothing changes until one finishes
    assert redis_conn.llen("rq:queue:realtime") == 2


def test_steps_are_unique_per_task(user, story_with_cast):
    from django.db import IntegrityError, transaction

    story, chapter = story_with_cast
    task = GenerationTask.objects.create(user=user, story=story)
    GenerationStep.objects.create(task=task, key="write", agent="narrative_intelligence")
    with pytest.raises(IntegrityError), transaction.atomic():
        GenerationStep.objects.create(task=task, key="write", agent="narrative_intelligence")


def test_relationships_among_the_characters_in_play_reach_the_writer(user, fake_ollama, story_with_cast):
    from tests.factories import cast, make_character, relate

    story, chapter = story_with_cast
    mara = story.characters.get(name="Mara")
    tomas, ilse = make_character(user, name="Tomas"), make_character(user, name="Ilse")
    cast(story, tomas)
    cast(story, ilse)
    relate(mara, tomas, kind="family", strength=9, description="Tomas is her younger brother.")
    relate(mara, ilse, kind="rival", strength=4)  # Ilse is not in this part of the story
    chapter.content = "Mara and Tomas argued on the rocks until the tide turned."
    chapter.continuation_context = {"relationships": [{"source": "Mara", "target": "Tomas", "change": "they quarrel"}]}
    chapter.save()
    task = run(user, story, chapter)

    prompt = writer_bodies(fake_ollama)[0]["messages"][1]["content"]
    assert (
        "Mara → Tomas: family, strength 9/10. Tomas is her younger brother. "
        "Latest change (in “The Stairs”): they quarrel" in prompt
    )
    assert "Ilse" not in prompt.split("Relationships", 1)[1].split("\n\n", 1)[0]
    assert "Relationships" in [s["title"] for s in task.context_report["sections"]]


def test_earlier_scenes_between_characters_with_history_reach_the_writer(user, fake_ollama, story_with_cast):
    from agents.memory.store import sync_chapter
    from tests.factories import cast, make_chapter, make_character, relate

    story, first = story_with_cast
    mara = story.characters.get(name="Mara")
    tomas = make_character(user, name="Tomas Vell")
    cast(story, tomas)
    relate(mara, tomas, kind="family", strength=9)
    first.content = "On the pier Mara slapped Tomas for selling their father's boat, and he walked away."
    first.save()
    sync_chapter(first)
    sync_chapter(make_chapter(story, title="Alone", content="Mara kept the lamp alone all winter."))
    sync_chapter(make_chapter(story, title="Letters", content="A letter came from the mainland."))
    latest = make_chapter(story, title="Return", content="Tomas Vell came back in spring. Mara saw him.")
    task = run(user, story, latest)

    prompt = writer_bodies(fake_ollama)[0]["messages"][1]["content"]
    assert "Mara and Tomas Vell before" in prompt and "slapped Tomas for selling" in prompt
    assert "Mara and Tomas Vell before" in [s["title"] for s in task.context_report["sections"]]


def test_drafts_rated_highly_become_style_examples_the_writer_can_switch_off(user, fake_ollama, story_with_cast):
    from agents.models import MemoryItem

    story, chapter = story_with_cast
    first = run(user, story, chapter)
    first.rate(5)
    assert MemoryItem.objects.get(story=story, kind="style").text.startswith(first.result_content.split()[0])

    second = run(user, story, chapter)
    prompt = writer_bodies(fake_ollama)[-1]["messages"][1]["content"]
    assert "Style the writer liked" in prompt and first.result_content[:60] in prompt
    assert "Style the writer liked" in [s["title"] for s in second.context_report["sections"]]

    first.rate(2)  # changed their mind: the example goes
    assert not MemoryItem.objects.filter(story=story, kind="style").exists()
    first.rate(4)
    story.generation_settings = {**story.generation_settings, "learn_from_ratings": False}
    story.save()
    run(user, story, chapter)
    assert "Style the writer liked" not in writer_bodies(fake_ollama)[-1]["messages"][1]["content"]


def test_a_draft_the_writer_edited_before_accepting_becomes_a_style_example(user, fake_ollama, story_with_cast):
    from agents.models import MemoryItem

    story, chapter = story_with_cast
    task = run(user, story, chapter)
    task.accept_proposal(user, "Salt on the glass. Mara wiped it away with her sleeve and did not look down.")
    example = MemoryItem.objects.get(story=story, kind="style")
    assert example.text.startswith("Salt on the glass.") and example.metadata["source"] == f"task-{task.pk}-edited"
    run(user, story, chapter)
    assert "Salt on the glass." in writer_bodies(fake_ollama)[-1]["messages"][1]["content"]

    unedited = run(user, story, chapter)
    unedited.accept_proposal(user)  # accepted as proposed: nothing new is learned
    assert MemoryItem.objects.filter(story=story, kind="style").count() == 1


def test_the_writer_gets_a_characters_earlier_lines_closest_to_the_scene(user, fake_ollama, story_with_cast):
    from tests.factories import make_chapter

    story, chapter = story_with_cast
    lines = [
        "The waves were taller than the chapel tonight.",
        "Bread again? We had bread yesterday.",
        "The storm will turn the boats before dawn.",
        "My boots need mending, and so does the roof.",
        "Salt in the wind means a gale by evening.",
        "Nobody reads the parish ledger but me.",
    ]
    make_chapter(story, title="Earlier", content="\n".join(f"“{line}” Mara said." for line in lines))
    run(user, story, chapter, note="Mara watches the gale at sea from the lighthouse.")

    system = writer_bodies(fake_ollama)[0]["messages"][0]["content"]
    voice = system.split("Mara: Short, dry.", 1)[1].split("\n", 1)[0]
    assert "storm will turn the boats" in voice and "Salt in the wind" in voice and "taller than the chapel" in voice
    assert "Bread again" not in voice and "boots need mending" not in voice


def test_a_place_the_note_names_that_the_world_does_not_know_is_flagged_to_the_writer(user, fake_ollama,
                                                                                      story_with_cast):  # fmt: skip
    story, chapter = story_with_cast
    task = run(user, story, chapter, note="Mara reaches the Glass Market at noon.")
    assert task.steps.get(key="world").output["missing"] == ["Glass Market"]
    prompt = writer_bodies(fake_ollama)[0]["messages"][1]["content"]
    assert "Not described in the story yet: Glass Market." in prompt
