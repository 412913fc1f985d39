import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_healthz_names_the_missing_worker(client, redis_conn):
    response = client.get(reverse("healthz"))
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["worker"]
    assert body["checks"]["database"]["ok"] and body["checks"]["pgvector"]["detail"].startswith("pgvector 0.8")
    assert body["checks"]["redis"]["detail"].startswith("Redis ")


def test_healthz_is_ok_with_a_real_worker_running(client, rq_worker):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["worker"]["detail"] == "1 worker(s)"


@pytest.mark.django_db
def test_healthz_reports_redis_down(client, settings):
    # Point the queues at a socket nobody listens on: a real connection failure, not a mocked one.
    url = "unix:///nonexistent/redis.sock?db=0"
    settings.RQ_QUEUES = {name: {"URL": url} for name in settings.RQ_QUEUES}
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert set(response.json()["down"]) == {"redis", "worker"}
