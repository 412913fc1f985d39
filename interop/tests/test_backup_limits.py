"""Hostile backups cost one bounded job and change nothing: a backup.json that expands to gigabytes, an account
that lists one story a hundred thousand times or one picture twice, values the models would refuse, a restore that
fails after its pictures were written; and what moderators hid stays hidden through backups and imports."""

import io
import json
import time
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from characters.models import Character
from core.models import Upload
from pictures.models import Picture
from stories.models import Story
from tests import hostile
from tests.factories import cast, make_chapter, make_character, make_story
from tests.image_servers import png
from tests.responses import streamed_body

from .test_backup import backup_of, restore, zip_of

pytestmark = pytest.mark.django_db(transaction=True)


def story_archive(document: dict, files: dict) -> bytes:
    return zip_of({"backup.json": json.dumps(document), **files})


def failed_with(client, data: bytes) -> str:
    started = time.monotonic()
    restore(client, data)
    upload = Upload.objects.latest("created_at")
    assert upload.status == Upload.Status.FAILED and time.monotonic() - started < 10, upload.message
    return upload.message


@pytest.fixture
def small(user):
    story = make_story(user, title="Small")
    make_chapter(story, title="One", content="The tide came in.")
    mara = make_character(user, name="Mara")
    cast(story, mara)
    Picture.store(png(20, 20), owner=user, kind="portrait", character=mara, status="accepted", source="uploaded")
    return story


def test_a_backup_json_that_expands_to_hundreds_of_megabytes_is_refused_unread(writer_client):
    message = failed_with(writer_client, hostile.backup_json_bomb(200))
    assert "expands to more than a backup could" in message
    assert not Story.objects.exists()


def test_an_account_that_lists_one_story_many_times_or_one_picture_twice_is_refused(writer_client, small):
    story_zip = streamed_body(writer_client.get(reverse("story_backup", args=[small.pk])))
    many = failed_with(writer_client, hostile.account_backup_repeating(story_zip, 100_000))
    assert "more than 1,000 stories, this server's limit" in many
    assert "lists the same story twice" in failed_with(writer_client, hostile.account_backup_repeating(story_zip, 3))
    same = "characters/0.png"
    account = {"format": "storyassistant-account-backup", "version": 1, "stories": [],
               "characters": [{"name": "A", "portrait": same}, {"name": "B", "portrait": same}]}  # fmt: skip
    twice = zip_of({"account.json": json.dumps(account), "characters/0.png": png(10, 10)})
    assert "lists the same picture twice" in failed_with(writer_client, twice)
    document, files = backup_of(writer_client, small)
    document["pictures"].append(dict(document["pictures"][0]))
    assert "same picture file twice" in failed_with(writer_client, story_archive(document, files))
    assert Story.objects.count() == 1 and Character.objects.count() == 1


def test_values_the_models_refuse_are_named_and_nothing_is_created(writer_client, small):
    document, files = backup_of(writer_client, small)
    too_long = {**files, "chapters/0.jsonl": json.dumps({"content": "x" * 500_001}).encode() + b"\n"}
    cases = [
        (story_archive(document, too_long), "a chapter's text (content: String should have at most 500000"),
        (story_archive({**document, "chapters": [{**document["chapters"][0], "status": "bogus"}]}, files),
         "status: Value 'bogus' is not a valid choice"),
        (story_archive({**document, "cast": [{**document["cast"][0], "importance": 99}]}, files),
         "storycharacter_importance_1_10"),
    ]  # fmt: skip
    for data, reason in cases:
        message = failed_with(writer_client, data)
        assert reason in message, message
    assert Story.objects.count() == 1


def test_a_restore_that_fails_after_writing_pictures_leaves_no_files(writer_client, small, user, settings):
    document, files = backup_of(writer_client, small)
    before = set(_media_files(settings))
    broken = {**document, "ignored_findings": [{"fingerprint": "same", "kind": "grammar", "message": "x"}] * 2}
    assert "ignored_finding_unique_per_story" in failed_with(writer_client, story_archive(broken, files))
    assert set(_media_files(settings)) == before  # the portrait written for the failed restore was removed
    assert Picture.objects.count() == 1


def _media_files(settings):
    root = settings.MEDIA_ROOT
    return [str(p) for p in root.rglob("*") if p.is_file() and "uploads" not in p.parts] if root.exists() else []


def test_a_portrait_of_someone_who_left_the_cast_stays_out_of_the_storys_backup(writer_client, small, user):
    tomas = make_character(user, name="Tomas")
    Picture.store(png(10, 10), owner=user, kind="portrait", character=tomas, story=small, status="accepted",
                  source="uploaded")  # fmt: skip
    document, files = backup_of(writer_client, small)
    assert [p["character"] for p in document["pictures"]] == [0]  # Mara's; Tomas's portrait goes with Tomas
    # A backup from before, with such a portrait in it, still restores, and says what it left out.
    old = {**document, "pictures": [*document["pictures"], {**document["pictures"][0], "character": None,
                                                             "file": "images/9.png"}]}  # fmt: skip
    restore(writer_client, story_archive(old, {**files, "images/9.png": png(10, 10)}))
    upload = Upload.objects.latest("created_at")
    assert upload.status == Upload.Status.DONE and "1 portrait of someone no longer in the cast" in upload.message


def test_what_moderators_hid_stays_hidden_through_backups_imports_and_pictures(writer_client, small, user):
    scene = Picture.store(png(10, 10), owner=user, kind="scene", story=small, status="accepted")
    make_story(user, title="Visible")
    small.flag("Hidden by moderators.")
    archive = zipfile.ZipFile(io.BytesIO(_account_backup(writer_client)))
    titles = [json.loads(zipfile.ZipFile(io.BytesIO(archive.read(n))).read("backup.json"))["story"]["title"]
              for n in archive.namelist() if n.startswith("stories/")]  # fmt: skip
    assert titles == ["Visible"]
    assert writer_client.get(reverse("story_backup", args=[small.pk])).status_code == 403
    assert writer_client.get(reverse("manuscript_upload") + f"?story={small.pk}").status_code == 404
    assert writer_client.get(reverse("picture_file", args=[scene.pk, "image"])).status_code == 404
    assert default_storage.exists(scene.image.name)  # hidden, not deleted


def _account_backup(client) -> bytes:
    return streamed_body(client.get(reverse("account_backup")))
