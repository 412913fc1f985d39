"""Uploading a portrait: cleaned like any image, current at once, refused with a reason when it is not fit, and
private to the owner."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pictures.models import Picture
from tests.factories import make_character, send_file
from tests.image_servers import png, png_claiming

pytestmark = pytest.mark.django_db


def upload(client, character, data, name="me.png"):
    url = reverse("portrait_upload", args=[character.pk])
    return send_file(client, url, {"portrait": SimpleUploadedFile(name, data, content_type="image/png")})


def test_an_uploaded_portrait_is_cleaned_and_shown_at_once(writer_client, user):
    mara = make_character(user, name="Mara")
    response = upload(writer_client, mara, png(300, 400, text_chunk="Author: someone"), name="photo.jpg")
    assert response["Location"] == mara.get_absolute_url()
    picture = Picture.objects.get()
    assert (picture.status, picture.source, picture.kind) == ("accepted", "uploaded", "portrait")
    assert picture.content_type == "image/png" and picture.image.name.endswith(".png")  # sniffed, not named
    assert b"someone" not in picture.image.read()
    page = writer_client.get(mara.get_absolute_url()).content.decode()
    assert picture.thumbnail_url in page and "Uploaded by the writer" in page


def test_an_unfit_upload_is_refused_with_the_reason(writer_client, user, settings):
    mara = make_character(user, name="Mara")
    page = upload(writer_client, mara, b"#!/bin/sh\nrm -rf /\n", name="portrait.png").content.decode()
    assert 'data-upload-status="failed"' in page and "not an image the app can read" in page
    page = upload(writer_client, mara, png_claiming(9000, 9000)).content.decode()
    assert 'data-upload-status="failed"' in page and "the limit is 40 megapixels" in page
    settings.PICTURE_MAX_BYTES = 10_000
    response = upload(writer_client, mara, b"\x89PNG" + b"\0" * 200_000)
    assert response.status_code == 413 and "the limit is" in response.content.decode()
    response = writer_client.post(reverse("portrait_upload", args=[mara.pk]), {})
    assert response.status_code == 400 and "Choose an image file" in response.content.decode()
    assert not Picture.objects.exists()


def test_deleting_a_picture_removes_its_files(writer_client, user, django_capture_on_commit_callbacks):
    mara = make_character(user, name="Mara")
    upload(writer_client, mara, png())
    picture = Picture.objects.get()
    names = [picture.image.name, picture.thumbnail.name]
    assert all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        response = writer_client.post(reverse("picture_delete", args=[picture.pk]))
    assert response["Location"] == mara.get_absolute_url()
    assert not Picture.objects.exists() and not any(default_storage.exists(name) for name in names)


def test_another_writer_cannot_see_upload_or_delete(writer_client, other_client, user):
    mara = make_character(user, name="Mara")
    upload(writer_client, mara, png())
    picture = Picture.objects.get()
    assert upload(other_client, mara, png()).status_code == 404
    assert other_client.get(picture.get_absolute_url()).status_code == 404
    assert other_client.post(reverse("picture_delete", args=[picture.pk])).status_code == 404
    assert Picture.objects.count() == 1 and writer_client.get(picture.get_absolute_url()).status_code == 200
