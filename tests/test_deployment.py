"""compose.yml describes production; no Docker engine runs here, so its shape is checked as data."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "compose.yml").read_text())


def test_compose_runs_every_service_of_the_product(compose):
    services = compose["services"]
    assert {"db", "pgbouncer", "redis", "ollama", "languagetool", "web", "worker", "maintenance"} <= set(services)
    assert services["db"]["image"].startswith("pgvector/pgvector:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["ollama"]["image"].startswith("ollama/ollama")
    assert "languagetool" in services["languagetool"]["image"]


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        if name in ("migrate", "ollama-pull"):  # one-shot: they finish
            continue
        assert service["healthcheck"]["test"], name


def test_web_and_worker_are_wired_to_the_real_servers(compose):
    for name in ["web", "worker"]:
        service = compose["services"][name]
        env = service["environment"]
        assert "@pgbouncer:6432/" in env["DATABASE_URL"] and env["DATABASE_BEHIND_POOLER"] == "true"
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["OLLAMA_HOST"] == "http://ollama:11434"
        assert env["LANGUAGETOOL_URL"] == "http://languagetool:8010"
        assert service["depends_on"]["pgbouncer"]["condition"] == "service_healthy"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "daphne" in compose["services"]["web"]["command"]
    assert compose["services"]["worker"]["command"][-2:] == ["realtime", "background"]


def test_pgbouncer_pools_transactions_in_front_of_postgres(compose):
    services = compose["services"]
    bouncer = services["pgbouncer"]["environment"]
    assert bouncer["DB_HOST"] == "db" and bouncer["POOL_MODE"] == "transaction"
    assert services["pgbouncer"]["depends_on"]["db"]["condition"] == "service_healthy"
    # Migrations talk to PostgreSQL directly.
    assert "@db:5432/" in services["migrate"]["environment"]["DATABASE_URL"]


def test_maintenance_runs_as_a_service_of_its_own(compose):
    from django.core.management import get_commands

    assert compose["services"]["maintenance"]["command"] == ["python", "manage.py", "maintenance"]
    assert "maintenance" in get_commands()


def test_data_lives_in_named_volumes(compose):
    assert {"pgdata", "redisdata", "ollama"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]


def test_healthcheck_commands_exist_in_the_app(compose):
    from django.core.management import get_commands

    assert "health" in get_commands()
    assert compose["services"]["worker"]["healthcheck"]["test"][:4] == ["CMD", "python", "manage.py", "health"]


def test_every_variable_the_settings_read_is_documented():
    settings_source = (ROOT / "storyassistant" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|int|float|list|secret)\("([A-Z_]+)"', settings_source))
    read |= {f"{p}_CLIENT_{k}" for p in ["GOOGLE", "GITHUB", "DISCORD"] for k in ["ID", "SECRET"]}
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - documented == set()


@pytest.mark.django_db
def test_migrations_match_the_models():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_the_models_are_pulled_before_the_app_starts(compose):
    services = compose["services"]
    pull = services["ollama-pull"]
    assert pull["image"].startswith("ollama/ollama") and pull["environment"]["OLLAMA_HOST"] == "http://ollama:11434"
    assert "OLLAMA_MODEL" in pull["environment"]["OLLAMA_PULL"] and "ollama pull" in pull["command"][0]
    assert pull["depends_on"]["ollama"]["condition"] == "service_healthy"
    for name in ["web", "worker"]:
        assert services[name]["depends_on"]["ollama-pull"]["condition"] == "service_completed_successfully"


def test_the_web_scales_behind_a_proxy_with_pgbouncer_sized_for_it(compose):
    services = compose["services"]
    # `docker compose up --scale web=3 --scale worker=4`: no replica publishes a port of its own...
    assert "ports" not in services["web"] and "ports" not in services["worker"]
    assert services["proxy"]["ports"] == ["8000:8000"] and services["proxy"]["image"].startswith("nginx:")
    mount = services["proxy"]["volumes"][0].split(":")
    assert mount[1] == "/etc/nginx/conf.d/default.conf"
    conf = (ROOT / mount[0]).read_text()
    # ...and the proxy finds every replica (resolved per request) and carries websockets and large uploads.
    assert "resolver 127.0.0.11" in conf and "set $web http://web:8000;" in conf and "proxy_pass $web;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf and "proxy_read_timeout 3600s;" in conf
    assert "X-Forwarded-For" in conf and services["web"]["environment"]["TRUSTED_PROXIES"]
    body = int(re.search(r"client_max_body_size (\d+)m;", conf).group(1))
    from django.conf import settings

    assert body * 2**20 > settings.BACKUP_MAX_BYTES  # the app, not the proxy, refuses an oversized upload
    # The README's formula: every process's pool fits PgBouncer's clients; its server connections fit PostgreSQL.
    env = services["web"]["environment"]
    pool = int(re.search(r":-(\d+)", env["DATABASE_POOL_MAX_SIZE"]).group(1))
    bouncer = services["pgbouncer"]["environment"]
    clients = int(re.search(r":-(\d+)", bouncer["MAX_CLIENT_CONN"]).group(1))
    server = int(re.search(r":-(\d+)", bouncer["DEFAULT_POOL_SIZE"]).group(1))
    assert (3 + 4 + 1) * pool <= clients and server < 100  # web, workers, maintenance; max_connections
