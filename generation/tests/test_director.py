"""The creative director reads the writer's note into the plan, and a failing agent is retried once, then falls
back (the writer to another model, other agents to a degraded step that says what it skipped)."""

import json

import pytest

from agents.services import llm
from agents.services.capabilities import BUILT_IN
from agents.team import creative_director as director
from agents.team import registry
from agents.team.base import AgentContext
from agents.team.intent import interpret
from agents.team.kinds import AgentType
from agents.team.messages import Finding, QualityReport, WorldContext
from agents.team.narrative_intelligence import CONTINUE_NOTE
from agents.team.requests import TaskRequest
from generation.live import render_panel
from tests.httpserver import LocalServer
from tests.llm_servers import serve_ollama

from .conftest import prose
from .test_pipeline import chat_bodies, is_writer, run, writer_bodies

pytestmark = pytest.mark.django_db(transaction=True)

READING = {
    "target_words": 400, "characters": ["mara", "Nobody"], "retrieve": "the old lamp", "world": False,
    "check": True, "reason": "A short scene about Mara and the lamp, in her head; no places matter.",
}  # fmt: skip


def is_director(body) -> bool:
    return "You are the creative director" in body["messages"][0]["content"]


def test_the_director_reads_the_note_into_the_plan(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    fake_ollama.state["reply"] = lambda body: json.dumps(READING) if is_director(body) else prose(120)
    task = run(user, story, chapter, note="Just a short scene: Mara alone with the lamp, what she feels.")

    asked = next(body for body in chat_bodies(fake_ollama) if is_director(body))
    assert asked["format"]["required"] and "Mara alone with the lamp" in asked["messages"][0]["content"]
    plan = task.steps.get(key="plan")
    assert plan.output["intent"]["characters"] == ["Mara"]  # the cast's spelling; a name not in the cast dropped
    assert "Read the note: A short scene about Mara" in plan.reason and "context (no world entries)" in plan.reason
    assert plan.model == "llama3.1" and plan.completion_tokens > 0
    steps = {s["key"]: s for s in task.plan}
    assert "world" not in steps and steps["write"]["dependencies"] == ["context"]
    assert steps["write"]["payload"]["target_words"] == 400
    assert steps["context"]["payload"]["query"] == "the old lamp"
    assert steps["context"]["payload"]["characters"] == ["Mara"] and "above all Mara" in steps["context"]["reason"]
    assert task.status == "succeeded" and "400 words" in writer_bodies(fake_ollama)[0]["messages"][1]["content"]


def test_a_note_that_cannot_be_read_gives_the_usual_plan(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    fake_ollama.state["reply"] = lambda body: '{"target_words": 99999}' if is_director(body) else prose(120)
    task = run(user, story, chapter, note="Make it epic.")
    plan = task.steps.get(key="plan")
    assert "The usual plan: the model's reading of the note was not valid (target_words" in plan.reason
    assert plan.output["intent"] is None and {"world", "context", "write", "check"} <= {s["key"] for s in task.plan}
    assert task.status == "succeeded"


def test_the_built_in_model_and_an_empty_note_keep_the_usual_plan(user, story_with_cast):
    story, chapter = story_with_cast
    embedded = llm.resolve(model="embedded")
    ctx = AgentContext(
        mode="continue", story=story, chapter=chapter, request=TaskRequest(note="Longer."), target=embedded
    )
    assert interpret(ctx, 600) == (
        None,
        "the built-in model cannot read a note into a plan (a capable model can)",
        None,
    )
    ctx = AgentContext(mode="continue", story=story, chapter=chapter, request=TaskRequest(note="  "), target=embedded)
    assert interpret(ctx, 600)[:2] == (None, "no note to read")
    planned = director.plan(ctx)
    assert planned.intent is None and planned.why.endswith("The usual plan: no note to read.")


@pytest.fixture
def two_models(settings, redis_conn):
    """An Ollama server with the usual model, which fails every draft, and a fallback that writes."""
    server = LocalServer()
    serve_ollama(server, models=("llama3.1", "backup"), reply=lambda body: prose(120))
    chat = server.routes[("POST", "/api/chat")]

    def failing_writer(request):
        body = request.json()
        if body["model"] == "llama3.1" and is_writer(body):
            return 500, {}, {"error": "CUDA error: out of memory"}
        return chat(request)

    server.routes[("POST", "/api/chat")] = failing_writer
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", [server.url], 0
    settings.GENERATION_SLOTS, settings.LLM_FALLBACK_MODEL = 1, "backup"
    yield server
    server.close()


def test_a_failing_writer_is_retried_then_falls_back_to_another_model(user, two_models, story_with_cast):
    story, chapter = story_with_cast
    task = run(user, story, chapter)
    models = [b["model"] for b in chat_bodies(two_models) if is_writer(b)]
    assert models == ["llama3.1", "llama3.1", "backup"]  # the usual model twice, then the fallback
    write = task.steps.get(key="write")
    assert write.status == "succeeded" and write.model == "backup" and "Written by backup instead." in write.error
    assert task.status == "succeeded" and task.result_content == prose(120) and task.model_name == "backup"


def test_without_a_fallback_model_the_writers_failure_fails_the_task(user, two_models, story_with_cast, settings):
    settings.LLM_FALLBACK_MODEL = ""
    story, chapter = story_with_cast
    task = run(user, story, chapter)
    assert task.status == "failed" and "CUDA error: out of memory" in task.error
    assert task.steps.get(key="write").status == "failed"


def test_a_failing_check_leaves_the_draft_unchecked_with_a_warning(user, fake_ollama, story_with_cast, monkeypatch):
    calls = []

    def broken_check(ctx, message):
        calls.append(message.key)
        raise RuntimeError("the grammar service crashed")

    monkeypatch.setitem(registry.AGENTS, (AgentType.QUALITY_ASSURANCE, "check"), (broken_check, QualityReport))
    story, chapter = story_with_cast
    task = run(user, story, chapter)
    assert calls == ["check", "check"]  # tried once more before falling back
    check = task.steps.get(key="check")
    assert check.status == "succeeded" and "the grammar service crashed" in check.error
    assert "Skipped: the quality check (the draft is unchecked)" in check.error
    assert task.status == "succeeded" and task.quality_report["verdict"] == "warn"
    assert "The quality check could not run" in task.quality_report["findings"][0]["message"]


def test_a_failing_world_step_is_skipped_and_the_draft_still_written(user, fake_ollama, story_with_cast, monkeypatch):
    def broken(ctx, message):
        raise RuntimeError("memory search timed out")

    monkeypatch.setitem(registry.AGENTS, (AgentType.WORLD_BUILDING, "retrieve_world"), (broken, WorldContext))
    story, chapter = story_with_cast
    task = run(user, story, chapter)
    world = task.steps.get(key="world")
    assert world.status == "succeeded" and "Skipped: the story's world entries" in world.error
    assert task.status == "succeeded" and task.result_content == prose(120)


def test_a_model_that_cannot_rewrite_gets_no_rewrite_loop_and_the_plan_says_so(story_with_cast, settings):
    failing = QualityReport.judge([Finding(check="repetition", severity="fail", message="A sentence repeats 9 times")])
    assert director.gate(failing, 0).action == "retry"
    decision = director.gate(failing, 0, BUILT_IN)
    assert decision.action == "accept" and decision.feedback == ["A sentence repeats 9 times"]
    assert "cannot rewrite" in decision.reason
    story, chapter = story_with_cast
    ctx = AgentContext(mode="continue", story=story, chapter=chapter, target=llm.resolve(model="embedded"))
    assert "rules and grammar only" in director.plan(ctx).why
    settings.OLLAMA_HOSTS = ["http://127.0.0.1:9"]  # a capable model (planning an empty note asks it nothing)
    ctx = AgentContext(mode="continue", story=story, chapter=chapter, target=llm.resolve(model="llama3.1"))
    assert "rules and grammar only" not in director.plan(ctx).why


def test_a_model_declared_small_is_planned_for_like_the_built_in_one(user, fake_ollama, story_with_cast, settings):
    settings.LLM_MODEL_PROFILES = {"llama3.1": "small"}
    story, chapter = story_with_cast
    fake_ollama.state["reply"] = lambda body: "Too short."
    task = run(user, story, chapter, note="Make it long and dark.")

    bodies = chat_bodies(fake_ollama)
    # No note read, no judge, no rewrite: the writer only, asked to go on twice as the draft stopped far too short.
    assert len(bodies) == 3 and all(is_writer(b) for b in bodies)
    assert bodies[0]["options"]["repeat_penalty"] == 1.1
    assert bodies[1]["messages"][-2:] == [{"role": "assistant", "content": "Too short."},
                                          {"role": "user", "content": CONTINUE_NOTE}]  # fmt: skip
    assert task.result_content == "Too short.\n\nToo short.\n\nToo short."
    plan = task.steps.get(key="plan")
    assert "With the small model llama3.1: checks by rules and grammar only" in plan.reason
    assert "The usual plan: the small model llama3.1 cannot read a note into a plan" in plan.reason
    # The task panel says it in one line, in view (the plan's reason is only a tooltip there).
    assert "data-limits>With the small model llama3.1: checks by rules and grammar only" in render_panel(task)
    gate = task.steps.get(key="gate-0")
    assert gate.output["action"] == "accept" and "The small model llama3.1 cannot rewrite" in gate.reason
    assert task.status == "succeeded" and task.quality_report["verdict"] == "fail"
    report = task.quality_report
    assert report["consistency"]["skipped"] == "the small model llama3.1 cannot judge facts and characters"
    assert report["genre"]["skipped"] == "the small model llama3.1 cannot judge genre and tone"


def test_the_built_in_model_is_asked_for_a_draft_it_can_hold(story_with_cast):
    story, chapter = story_with_cast
    story.generation_settings = {**story.generation_settings, "target_words": 2000}
    ctx = AgentContext(mode="next_chapter", story=story, chapter=chapter, target=llm.resolve(model="embedded"))
    planned = director.plan(ctx)
    write = next(step for step in planned.steps if step.key == "write")
    assert write.payload["target_words"] == 400 and "drafts of up to 400 words" in planned.why
