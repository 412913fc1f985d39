import pytest
from django.db import connection
from django.urls import reverse

from tests.factories import make_user


@pytest.fixture
def staff_client(client, db):
    client.force_login(make_user("ops@example.com", is_staff=True))
    return client


@pytest.mark.django_db
def test_healthz_names_the_missing_worker(staff_client, redis_conn):
    response = staff_client.get(reverse("healthz"))
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["worker"]
    assert body["checks"]["database"]["ok"] and body["checks"]["pgvector"]["detail"].startswith("pgvector 0.8")
    assert body["checks"]["redis"]["detail"].startswith("Redis ")


def test_healthz_is_ok_with_a_real_worker_running(client, rq_worker, settings):
    settings.HEALTHZ_TOKEN = "monitor-secret"
    response = client.get(reverse("healthz"), headers={"Authorization": "Bearer monitor-secret"})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["worker"]["detail"] == "1 worker(s)"


@pytest.mark.django_db
def test_anyone_else_sees_only_whether_it_is_up(client, redis_conn, settings):
    settings.HEALTHZ_TOKEN = "monitor-secret"
    for headers in ({}, {"Authorization": "Bearer a-guess"}):
        body = client.get(reverse("healthz"), headers=headers).json()
        assert body == {"status": "down", "down": ["worker"]}  # no versions, no error texts


@pytest.mark.django_db
def test_healthz_reports_connections_and_this_processs_pool(staff_client, redis_conn):
    detail = staff_client.get(reverse("healthz")).json()["checks"]["database"]["detail"]
    assert detail.startswith("PostgreSQL 18")
    assert "connections in use" in detail and "of 100 connections" in detail
    assert "this process's pool:" in detail and "(max 8)" in detail


@pytest.mark.django_db
def test_the_database_is_down_when_no_new_connection_can_be_had(staff_client, redis_conn, monkeypatch):
    # The pooled connection this process holds still works; a new one is refused (here: no server at that
    # socket). That is what other processes would see, so the check must fail.
    monkeypatch.setitem(connection.settings_dict, "HOST", "/nonexistent-socket-dir")
    response = staff_client.get(reverse("healthz"))
    assert response.status_code == 503
    assert "database" in response.json()["down"]


@pytest.mark.django_db
def test_healthz_reports_redis_down(client, settings):
    # Point the queues at a socket nobody listens on: a real connection failure, not a mocked one.
    url = "unix:///nonexistent/redis.sock?db=0"
    settings.RQ_QUEUES = {name: {"URL": url} for name in settings.RQ_QUEUES}
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert set(response.json()["down"]) == {"redis", "worker"}


@pytest.mark.django_db
def test_request_timing_says_where_each_requests_time_goes(client, redis_conn, settings):
    from django.test import Client

    from core import timing
    from tests.factories import make_chapter, make_story

    assert client.get("/healthz/floor").status_code == 404  # off: no floor, no header
    assert "Server-Timing" not in client.get(reverse("healthz")).headers
    settings.REQUEST_TIMING = True
    timing.reset_all()
    timing.RECORDER.reset()
    writer = make_user()
    chapter = make_chapter(make_story(writer), content="Before.")
    browser = Client()  # a new handler: the middleware sees the setting when it is built
    browser.force_login(writer)
    url = reverse("chapter_save", args=[chapter.story.pk, chapter.pk])
    response = browser.post(url, {"title": "One", "content": "After.", "base_version": chapter.version},
                            headers={"HX-Request": "true"})  # fmt: skip
    assert response.status_code == 200
    fields = dict(part.strip().split(";", 1) for part in response["Server-Timing"].split(","))
    assert set(fields) == {"cpu", "db", "redis", "app"}
    queries = int(fields["db"].split('desc="')[1].split()[0])
    assert queries >= 3 and float(fields["cpu"].removeprefix("dur=")) > 0  # session, user, chapter, revision
    assert browser.get("/healthz/floor").content == b"ok"

    staff = Client()
    staff.force_login(make_user("ops2@example.com", is_staff=True))
    timing.RECORDER.flushed = 0  # due now, as five seconds later
    staff.get("/healthz/floor")
    routes = {route for process in staff.get(reverse("healthz")).json()["timing"].values() for route in process}
    assert {"chapter_save", "healthz_floor"} <= routes
    saved = next(p["chapter_save"] for p in timing.all_processes().values() if "chapter_save" in p)
    assert saved["requests"] == 1 and saved["queries_mean"] == queries
