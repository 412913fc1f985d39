"""With nothing configured, the worker runs SmolLM2 itself and the browser watches it stream."""

import pytest

from agents.team.narrative_intelligence import clean
from api.models import ApiToken
from generation.models import GenerationTask
from tests.test_live_generation import api_generate, run_async, session_cookie, watch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker_env():
    return {"LLM_PROVIDER": "embedded", "GENERATION_SLOTS": "1"}


def test_the_embedded_smollm2_model_runs_the_whole_pipeline(web_server, start_worker, writer_story):
    writer, story, chapter = writer_story
    _, key = ApiToken.issue(writer, "e2e")
    task_id = api_generate(web_server, story, chapter, key)
    watcher = run_async(watch(web_server, task_id, session_cookie(writer), on_open=start_worker, timeout=300))

    task = GenerationTask.objects.get(pk=task_id)
    assert watcher.statuses[-1] == "succeeded", task.error
    writes = list(task.steps.filter(agent="narrative_intelligence"))
    assert all(w.model == "SmolLM2-135M-Instruct" and w.completion_tokens > 0 for w in writes)
    assert task.result_content and clean(watcher.draft) == task.result_content
    assert task.steps.filter(agent="quality_assurance").exists()
