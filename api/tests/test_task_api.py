"""Asking the agents through the JSON API (a task to follow and cancel), and the writer's API tokens."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from api.models import ApiToken
from generation.models import GenerationTask
from generation.tasks import run_generation

pytestmark = pytest.mark.django_db(transaction=True)


def api_post(client, url, data, **headers):
    return client.post(url, json.dumps(data), content_type="application/json", **headers)


def test_api_generate_and_status_with_a_token(user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    _, key = ApiToken.issue(user, "script")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    response = api_post(Client(enforce_csrf_checks=True), reverse("api_generate", args=[story.pk]),
                        {"mode": "continue", "chapter_id": chapter.pk, "note": "Rain."}, **auth)  # fmt: skip
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    assert response.json()["status"] == "queued"

    status = Client().get(reverse("api_task_status", args=[task_id]), **auth).json()
    assert status["status"] == "queued" and status["place_in_line"] is None and status["progress"] == 0
    run_generation(task_id)
    status = Client().get(reverse("api_task_status", args=[task_id]), **auth).json()
    assert status["status"] == "succeeded" and status["progress"] == 100
    assert status["partial_result"].startswith("Mara climbed") and status["quality"] == "pass"


def test_api_session_posts_need_the_csrf_token(user, story_with_cast):
    story, chapter = story_with_cast
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    url = reverse("api_generate", args=[story.pk])
    assert api_post(client, url, {"mode": "next_chapter"}).status_code == 403
    client.get(reverse("dashboard"))
    token = client.cookies["csrftoken"].value
    assert api_post(client, url, {"mode": "next_chapter"}, HTTP_X_CSRFTOKEN=token).status_code == 202


def test_api_errors_are_clear(user, other_user, story_with_cast):
    story, chapter = story_with_cast
    url = reverse("api_generate", args=[story.pk])
    assert Client().post(url).status_code == 401
    assert Client().post(url, HTTP_AUTHORIZATION="Bearer nope").json()["error"] == "Invalid or revoked API token."
    _, key = ApiToken.issue(user, "script")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    bad = Client().post(url, "{not json", content_type="application/json", **auth)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    invalid = api_post(Client(), url, {"mode": "teleport"}, **auth)
    assert invalid.status_code == 400 and "mode" in invalid.json()["fields"]
    assert Client().get(url, **auth).status_code == 405

    _, other_key = ApiToken.issue(other_user, "theirs")
    other = {"HTTP_AUTHORIZATION": f"Bearer {other_key}"}
    assert api_post(Client(), url, {"mode": "next_chapter"}, **other).status_code == 404
    task = GenerationTask.objects.create(user=user, story=story)
    assert Client().get(reverse("api_task_status", args=[task.pk]), **other).status_code == 404
    assert Client().post(reverse("api_task_cancel", args=[task.pk]), **other).status_code == 404
    cancelled = Client().post(reverse("api_task_cancel", args=[task.pk]), **auth).json()
    assert cancelled["status"] == "cancelled"


# --- Websocket authorisation ----------------------------------------------------------------------------------------


def test_writers_create_and_revoke_their_api_tokens(writer_client, other_client, user, story_with_cast):
    url = reverse("api_tokens")
    page = writer_client.post(url, {"name": "export script"}).content.decode()
    key = page.split("data-new-token>")[1].split("</code>")[0]
    token = ApiToken.objects.get(user=user)
    assert key.startswith(token.prefix) and token.name == "export script" and key not in token.key_hash
    assert ApiToken.authenticate(key) == user
    assert key not in writer_client.get(url).content.decode()  # shown once
    assert "Give the token a name" in writer_client.post(url, {"name": "  "}, follow=True).content.decode()

    assert other_client.post(url, {"revoke": token.pk}).status_code == 404  # not theirs
    assert "export script" not in other_client.get(url).content.decode()
    writer_client.post(url, {"revoke": token.pk})
    assert not ApiToken.objects.exists() and ApiToken.authenticate(key) is None


def test_api_tokens_expire_and_end_with_a_password_change(writer_client, user, story_with_cast):
    from datetime import timedelta

    from django.utils import timezone

    page = writer_client.post(reverse("api_tokens"), {"name": "short-lived", "days": "30"}).content.decode()
    key = page.split("data-new-token>")[1].split("</code>")[0]
    token = ApiToken.objects.get(user=user)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert "Expires" in writer_client.get(reverse("api_tokens")).content.decode()
    api = Client(headers={"Authorization": f"Bearer {key}"})
    status_url = reverse("api_task_status", args=["00000000-0000-0000-0000-000000000000"])
    assert api.get(status_url).status_code == 404  # signed in; no such task

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get(status_url).status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(days=1))
    assert api.get(status_url).status_code == 404

    user.set_password("a whole new passphrase")
    user.save()
    assert api.get(status_url).status_code == 401  # bound to the password it was made under
    assert writer_client.post(reverse("api_tokens"), {"name": "x", "days": "9999"}, follow=True).status_code == 200
    assert ApiToken.objects.filter(user=user).count() == 1  # a lifetime out of range makes nothing
