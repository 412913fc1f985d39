from datetime import timedelta

import pytest
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from generation.tasks import maintenance
from stories.models import Story
from tests.factories import make_story, make_user

pytestmark = pytest.mark.django_db


def test_maintenance_purges_expired_trash_and_schedules_itself_again(redis_conn):
    owner = make_user()
    expired, recent, kept = make_story(owner), make_story(owner), make_story(owner)
    Story.objects.filter(pk=expired.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    Story.objects.filter(pk=recent.pk).update(deleted_at=timezone.now() - timedelta(days=29))
    maintenance()
    assert set(Story.objects.values_list("pk", flat=True)) == {recent.pk, kept.pk}
    assert "generation-maintenance" in ScheduledJobRegistry("maintenance", connection=redis_conn).get_job_ids()
