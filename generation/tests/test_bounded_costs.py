"""One writer's data size must not reach other writers' requests: a task stores a bounded report, and what every
queued writer's status asks of past tasks reads two timestamps, not the tasks."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.team.messages import STORED_FINDINGS, STORED_MATCHES, Finding, QualityReport
from generation.dispatch import estimate_seconds
from generation.models import GenerationTask
from tests.factories import make_story

pytestmark = pytest.mark.django_db


def huge_report() -> QualityReport:
    findings = [Finding(check="grammar", severity="info", message=f"Suggestion {n}") for n in range(5000)]
    matches = [{"offset": n, "length": 3, "excerpt": "teh", "message": "Spelling"} for n in range(100_000)]
    return QualityReport.judge(findings, grammar={"checker": "Harper", "matches": matches})


def test_a_stored_report_is_bounded_and_says_how_much_there_was():
    stored = huge_report().stored()
    assert len(stored["findings"]) == STORED_FINDINGS and stored["findings_total"] == 5000
    assert len(stored["grammar"]["matches"]) == STORED_MATCHES and stored["grammar"]["matches_total"] == 100_000
    assert stored["grammar"]["checker"] == "Harper"
    assert len(QualityReport.model_validate(stored).findings) == STORED_FINDINGS  # the task reads it back


def test_the_wait_estimate_reads_two_timestamps_of_recent_tasks(user, settings):
    settings.GENERATION_SLOTS = 2
    story = make_story(user)
    now = timezone.now()
    for seconds in (30, 90):
        GenerationTask.objects.create(
            user=user, story=story, status="succeeded", started_at=now - timedelta(seconds=seconds),
            finished_at=now, result_content="x" * 200_000, quality_report={"blob": "y" * 200_000},
        )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        assert estimate_seconds(3) == int(60 * 3 / 2)  # the average of 30 s and 90 s, three ahead, two slots
    sql = next(q["sql"] for q in queries.captured_queries if "generation_generationtask" in q["sql"])
    selected = sql.split(" FROM ")[0]
    assert '"started_at"' in selected and '"finished_at"' in selected
    assert "quality_report" not in selected and "result_content" not in selected
