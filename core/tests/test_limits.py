"""Bad input gets a clear 400/413, floods a 429 with Retry-After, and pages carry the security headers."""

import pytest
from django.test import Client
from django.urls import reverse

from api.models import ApiToken
from tests.factories import make_chapter, make_story, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def chapter(user):
    return make_chapter(make_story(user), content="The ship docked at dawn.")


def test_malformed_ids_are_a_400_with_a_message(writer_client, chapter, redis_conn):
    story = chapter.story
    cases = [
        ("post", reverse("generate", args=[story.pk]), {"mode": "continue", "chapter": "abc"}),
        ("get", reverse("character_create") + "?story=1%20OR%201", None),
        ("post", reverse("chapter_reorder", args=[story.pk]), {"chapter": ["1", "x"]}),
        ("post", reverse("chapter_reorder", args=[story.pk]), {"chapter": [str(chapter.pk)], "current": "?"}),
        ("post", reverse("api_tokens"), {"revoke": "'; DROP TABLE"}),
        ("post", reverse("generate", args=[story.pk]), {"mode": "continue", "chapter": "99999999999999999999999"}),
    ]
    for method, url, data in cases:
        response = getattr(writer_client, method)(url, data) if data else writer_client.get(url)
        assert response.status_code == 400, (url, data, response.status_code)
        assert "must be a number" in response.content.decode() or "out of range" in response.content.decode()


def test_the_api_answers_malformed_ids_in_json(user, chapter, redis_conn):
    _, key = ApiToken.issue(user, "script")
    api = Client(headers={"Authorization": f"Bearer {key}"})
    url = reverse("api_generate", args=[chapter.story.pk])
    response = api.post(url, {"mode": "continue", "chapter_id": "three"}, content_type="application/json")
    assert response.status_code == 400 and response.json()["fields"] == {
        "chapter_id": "Input should be a valid integer, unable to parse string as an integer"
    }


def test_nul_characters_in_searches_are_dropped_not_a_500(writer_client, chapter, redis_conn):
    story = chapter.story
    assert writer_client.get(reverse("world_list", args=[story.pk]), {"q": "har\x00bour"}).status_code == 200
    assert writer_client.get(reverse("story_search", args=[story.pk]), {"q": "\x00"}).status_code == 200


def test_a_request_over_the_size_limit_is_a_413_with_a_message(writer_client, chapter, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    url = reverse("chapter_save", args=[chapter.story.pk, chapter.pk])
    response = writer_client.post(
        url, {"title": "One", "content": "x" * (2 * 1024 * 1024), "base_version": 1}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 413
    assert "more than the 1 MB" in response.content.decode() and response["HX-Reswap"] == "none"
    chapter.refresh_from_db()
    assert chapter.content == "The ship docked at dawn."


def test_the_api_is_rate_limited_per_writer(user, chapter, settings, redis_conn):
    settings.API_REQUESTS_PER_MINUTE = 3
    _, key = ApiToken.issue(user, "script")
    api = Client(headers={"Authorization": f"Bearer {key}"})
    url = reverse("api_generate", args=[chapter.story.pk])
    statuses = [api.post(url, {"mode": "bad"}, content_type="application/json").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    response = api.post(url, {"mode": "bad"}, content_type="application/json")
    assert 0 < int(response["Retry-After"]) <= 60 and "At most 3 requests a minute" in response.json()["error"]


def test_a_flood_of_saves_is_a_429_that_the_editor_retries(writer_client, chapter, settings, redis_conn):
    settings.SAVES_PER_MINUTE = 2
    url = reverse("chapter_save", args=[chapter.story.pk, chapter.pk])
    statuses = []
    for n in range(3):
        version = chapter.revisions.count() or 1
        data = {"title": "One", "content": f"Text {n}.", "base_version": version}
        statuses.append(writer_client.post(url, data, headers={"HX-Request": "true"}).status_code)
    assert statuses == [200, 200, 429]


def test_admin_sign_in_attempts_are_limited(client, settings, redis_conn):
    settings.ADMIN_LOGINS_PER_15_MINUTES = 3
    make_user("admin@example.com", is_staff=True)
    statuses = [
        client.post("/admin/login/", {"username": "admin@example.com", "password": f"guess{n}"}).status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]  # the form again with an error, then no more guesses
    # Another address cannot keep guessing at that account either.
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.post("/admin/login/", {"username": "admin@example.com", "password": "x"}).status_code == 429


def test_pages_carry_a_content_security_policy(writer_client, chapter):
    response = writer_client.get(reverse("chapter_edit", args=[chapter.story.pk, chapter.pk]))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in response.content.decode()  # no inline script the policy would block


def test_the_public_site_switch_passes_djangos_deployment_checks():
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    from conftest import child_env

    root = Path(__file__).resolve().parents[2]
    env = {**child_env(), "SECURE_SITE": "true", "SECRET_KEY": secrets.token_urlsafe(60), "DEBUG": "false"}
    check = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    result = subprocess.run(check, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    del env["SECURE_SITE"]  # a local install on http:// is what `make run` is; there the check does complain
    assert subprocess.run(check, cwd=root, env=env, capture_output=True, timeout=120).returncode != 0


def test_a_forged_forwarded_for_does_not_change_the_address_but_a_trusted_proxys_does(client, settings, redis_conn):
    settings.ADMIN_LOGINS_PER_15_MINUTES = 2
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # a public HTTPS site
    guesses = [
        client.post("/admin/login/", {"username": f"u{n}@example.com", "password": "x"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Forwarded-Proto": "https"}).status_code
        for n in range(3)
    ]  # fmt: skip
    assert guesses == [200, 200, 429]  # one address (127.0.0.1), whatever the header says
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxied = Client(REMOTE_ADDR="10.1.2.3")
    answers = [
        proxied.post("/admin/login/", {"username": f"v{n}@example.com", "password": "x"},
                     headers={"X-Forwarded-For": f"198.51.100.{n}, 10.9.9.9"}).status_code
        for n in range(3)
    ]  # fmt: skip
    assert answers == [200, 200, 200]  # three clients behind the proxy, each with its own count


def test_https_is_believed_only_from_a_trusted_proxy(settings):
    from django.test import RequestFactory

    from core.middleware import ForwardedHeadersMiddleware

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    seen = []
    middleware = ForwardedHeadersMiddleware(lambda request: seen.append(request.is_secure()))
    middleware(RequestFactory().get("/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_PROTO="https"))
    middleware(RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_PROTO="https"))
    assert seen == [False, True]
