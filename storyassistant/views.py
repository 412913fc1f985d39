from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from .health import run_checks


@never_cache
def healthz(request):
    """200 when the database, pgvector, Redis and a worker are all up; 503 naming what is down."""
    checks = run_checks()
    down = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "down" if down else "ok", "down": down, "checks": checks}
    return JsonResponse(body, status=503 if down else 200)
