"""Every refusal has one shape per kind of client: JSON for the API, an htmx event that replaces nothing, plain text
otherwise; a missing page under /api/ is JSON too."""

import json

import pytest
from django.test import RequestFactory

from core.refusals import refusal

pytestmark = pytest.mark.django_db


def test_a_refusal_is_json_for_the_api_an_event_for_htmx_and_text_otherwise():
    factory = RequestFactory()
    api = refusal(factory.post("/api/stories"), 429, "Slow down.", retry_after=7, limit=120)
    assert json.loads(api.content) == {"error": "Slow down.", "retry_after": 7, "limit": 120}
    assert api["Retry-After"] == "7"
    htmx = refusal(factory.post("/stories/1/generate/", HTTP_HX_REQUEST="true"), 429, "Slow down.", retry_after=7)
    assert htmx.content == b"Slow down." and htmx["HX-Reswap"] == "none"
    assert json.loads(htmx["HX-Trigger"]) == {"refused": {"message": "Slow down.", "status": 429}}
    page = refusal(factory.post("/stories/1/generate/"), 400, "No.")
    assert page["Content-Type"].startswith("text/plain") and "HX-Trigger" not in page


def test_a_missing_api_address_or_object_is_a_json_404(writer_client):
    missing = writer_client.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"error": "Not found, or not yours."}
    page = writer_client.get("/stories/999999/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
