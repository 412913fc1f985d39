import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from stories.models import Chapter, ChapterRevision, Story
from tests.factories import make_chapter, make_story, make_user

# The command returns its connection to the pool between rounds, as its own process does: no test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def test_maintenance_purges_expired_trash(redis_conn):
    owner = make_user()
    expired, recent, kept = make_story(owner), make_story(owner), make_story(owner)
    Story.objects.filter(pk=expired.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    Story.objects.filter(pk=recent.pk).update(deleted_at=timezone.now() - timedelta(days=29))
    call_command("maintenance", "--once")
    assert set(Story.objects.values_list("pk", flat=True)) == {recent.pk, kept.pk}


def autosave(chapter, text, at, **fields):
    revision = ChapterRevision.objects.create(chapter=chapter, title="t", content=text, version=1, **fields)
    ChapterRevision.objects.filter(pk=revision.pk).update(created_at=at)
    return revision.pk


def minutes_ago(minutes, seconds=0):
    return timezone.now() - timedelta(minutes=minutes, seconds=seconds)


def start_of_minute(moment):
    return moment.replace(second=0, microsecond=0)


def test_old_autosaves_are_thinned_by_age_and_everything_else_is_kept(redis_conn):
    chapter = make_chapter(make_story(make_user()))
    ChapterRevision.objects.filter(chapter=chapter).delete()
    recent = [autosave(chapter, f"r{i}", minutes_ago(i)) for i in range(1, 9)]  # the last ten minutes: all kept
    minute = start_of_minute(minutes_ago(30)) + timedelta(seconds=50)  # newest first, all in one minute
    same_minute = [autosave(chapter, f"m{i}", minute - timedelta(seconds=i)) for i in range(5)]
    hour = start_of_minute(minutes_ago(60 * 24 * 3)).replace(minute=50)  # three days ago, all in one hour
    same_hour = [autosave(chapter, f"h{i}", hour - timedelta(minutes=i)) for i in range(5)]
    agent = autosave(chapter, "agent", hour - timedelta(minutes=1), source=ChapterRevision.Source.AGENT)
    conflict = autosave(chapter, "mine", hour - timedelta(minutes=2), note="Not applied: conflict")
    call_command("maintenance", "--once")
    left = set(ChapterRevision.objects.filter(chapter=chapter).values_list("pk", flat=True))
    assert left == {*recent, same_minute[0], same_hour[0], agent, conflict}


@pytest.mark.django_db(transaction=True)
def test_saving_thins_that_chapters_old_autosaves_in_the_background(redis_conn, rq_worker):
    chapter = make_chapter(make_story(make_user()), content="first")
    minute = start_of_minute(minutes_ago(120)) + timedelta(seconds=50)
    old = [autosave(chapter, f"o{i}", minute - timedelta(seconds=i)) for i in range(4)]
    chapter = Chapter.objects.get(pk=chapter.pk)
    chapter.content = "second"
    chapter.save()
    deadline = timezone.now() + timedelta(seconds=30)
    while ChapterRevision.objects.filter(pk__in=old).count() > 1 and timezone.now() < deadline:
        time.sleep(0.2)
    assert list(ChapterRevision.objects.filter(pk__in=old).values_list("pk", flat=True)) == [old[0]]
    assert ChapterRevision.objects.filter(chapter=chapter, content="second").exists()
