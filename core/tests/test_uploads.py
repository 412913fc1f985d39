"""Files writers send are stored, then read by a job: one at a time per writer, a bounded number an hour, each
job safe to run twice, and a reading that stopped with its worker ends with a message instead of a second try."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core import uploads
from core.models import Upload
from interop.tasks import read_manuscript
from tests.factories import read_uploads

pytestmark = pytest.mark.django_db


def send(client, data=b"# One\n\nThe tide.", name="tide.md"):
    return client.post(reverse("manuscript_upload"), {"manuscript": SimpleUploadedFile(name, data)})


def test_the_writer_follows_the_upload_until_it_is_read_then_sees_the_message_once(writer_client):
    response = send(writer_client)
    upload = Upload.objects.get()
    assert response["Location"] == upload.get_absolute_url() and upload.status == Upload.Status.WAITING
    page = writer_client.get(upload.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
    assert 'data-upload-status="waiting"' in page and 'hx-trigger="every 1s"' in page

    read_uploads()
    upload.refresh_from_db()
    assert upload.status == Upload.Status.DONE and not upload.file and upload.seconds is not None
    polled = writer_client.get(upload.get_absolute_url(), headers={"HX-Request": "true"})
    assert polled["HX-Redirect"] == upload.next_url
    followed = writer_client.get(upload.next_url).content.decode()
    assert "Read 3 words from “tide.md”" in followed
    again = writer_client.get(upload.get_absolute_url())
    assert again["Location"] == upload.next_url
    assert "Read 3 words" not in writer_client.get(upload.next_url).content.decode()  # told once


def test_one_file_at_a_time_and_a_bounded_number_an_hour(writer_client, settings):
    send(writer_client)
    second = send(writer_client, name="second.md")
    assert second.status_code == 429 and second["Retry-After"] == "10"
    assert "previous file is still being read" in second.content.decode()
    read_uploads()
    settings.UPLOADS_PER_HOUR = 2
    assert send(writer_client, name="third.md").status_code == 302
    read_uploads()
    refused = send(writer_client, name="fourth.md")
    assert refused.status_code == 429 and "2 files in the last hour" in refused.content.decode()
    assert Upload.objects.count() == 2


def test_the_job_reads_a_file_once_even_when_run_twice(writer_client):
    send(writer_client)
    upload = Upload.objects.get()
    read_manuscript(upload.pk)
    read_manuscript(upload.pk)
    assert upload.owner.manuscript_imports.count() == 1


def test_a_reading_that_stopped_with_its_worker_fails_with_a_message_and_is_not_read_again(writer_client):
    send(writer_client)
    upload = Upload.objects.get()
    long_ago = timezone.now() - uploads.stale_after() - timedelta(seconds=1)
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.READING, started_at=long_ago)
    assert uploads.give_up_stale() == 1
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED and "worker reading this file stopped" in upload.message
    assert not upload.file and read_uploads() == []


def test_an_unexpected_error_fails_the_upload_with_a_plain_message(writer_client, monkeypatch):
    send(writer_client)
    monkeypatch.setattr("interop.tasks.ManuscriptImport.objects.create", lambda **_: 1 / 0)
    (upload,) = read_uploads()
    assert upload.status == Upload.Status.FAILED and upload.message == uploads.FAILED_UNEXPECTEDLY


def test_another_writer_gets_404_for_the_upload(writer_client, other_client):
    send(writer_client)
    assert other_client.get(Upload.objects.get().get_absolute_url()).status_code == 404
