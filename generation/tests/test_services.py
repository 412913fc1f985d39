"""The staff's services page: every configured service with a Test button that makes one small real call and shows
what came back, or the service's own reason and the fix."""

import pytest
from django.urls import reverse

from tests.factories import make_user
from tests.httpserver import LocalServer
from tests.llm_servers import serve_ollama

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(make_user("staff@example.com", is_staff=True))
    return client


def test_each_service_is_tested_with_a_small_real_call(staff_client, settings, image_services, languagetool):
    ollama = serve_ollama(LocalServer(), reply=lambda body: "OK")
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_STORY_MODELS = "ollama", [ollama.url], ["embedded"]
    settings.COMFYUI_URLS, settings.COMFYUI_CHECKPOINT = [image_services["comfyui"].url], "sd_xl_base_1.0.safetensors"
    url = reverse("services_status")
    page = staff_client.get(url).content.decode()
    for name in (
        "The default model (ollama, llama3.1)",
        "Offered to stories: embedded",
        "ComfyUI at",
        "LanguageTool at",
    ):
        assert name in page

    model = staff_client.post(url, {"test": "llm:"}).content.decode()
    assert 'data-service-result="ok"' in model and "ollama llama3.1 answered “OK”" in model
    comfyui = staff_client.post(url, {"test": "image:0"}).content.decode()
    assert 'data-service-result="ok"' in comfyui and "checkpoints: sd_xl_base_1.0.safetensors" in comfyui
    image_services["comfyui"].state["checkpoints"] = ["v1-5-pruned.safetensors"]
    missing = staff_client.post(url, {"test": "image:0"}).content.decode()
    assert 'data-service-result="failed"' in missing
    assert "has no checkpoint “sd_xl_base_1.0.safetensors”; it has: v1-5-pruned.safetensors" in missing
    assert "Set COMFYUI_CHECKPOINT" in missing
    grammar = staff_client.post(url, {"test": "languagetool"}).content.decode()
    assert 'data-service-result="ok"' in grammar and "suggestion(s)" in grammar
    ollama.close()


def test_a_service_that_is_down_says_why(staff_client, settings):
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_RETRIES = "ollama", ["http://127.0.0.1:9"], 0
    settings.LANGUAGETOOL_URL = "http://127.0.0.1:9"
    url = reverse("services_status")
    model = staff_client.post(url, {"test": "llm:"}).content.decode()
    assert 'data-service-result="failed"' in model and "Cannot reach Ollama" in model
    grammar = staff_client.post(url, {"test": "languagetool"}).content.decode()
    assert 'data-service-result="failed"' in grammar and "did not answer" in grammar


def test_only_staff_see_the_services(writer_client):
    assert writer_client.get(reverse("services_status")).status_code == 302  # to the admin's sign-in
    assert writer_client.post(reverse("services_status"), {"test": "llm:"}).status_code == 302


def test_the_self_test_measures_what_a_model_is_trusted_with(staff_client, settings, local_server):
    # A model that answers every question with the same invented facts, as a tiny model does.
    serve_ollama(local_server, reply=lambda body: '{"dead": ["Mara"], "contradicts": true, "town": ["Saltmere"]}')
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS, settings.LLM_STORY_MODELS = "ollama", [local_server.url], ["embedded"]
    url = reverse("services_status")
    page = staff_client.get(url).content.decode()
    assert "capable: not measured: treated as capable" in page
    assert 'name="measure" value="llm:"' in page and 'name="measure" value="llm:embedded"' not in page
    assert "built-in: the built-in model (SmolLM2-135M)" in page

    measured = staff_client.post(url, {"measure": "llm:"}).content.decode()
    assert 'data-service-result="ok"' in measured and "1 of 5 right, treated as small" in measured
    assert "who died: wrong" in measured and "a contradiction: right" in measured
    assert "small: self-test" in measured  # the profile shown is the new one
    assert staff_client.post(url, {"measure": "llm:embedded"}).status_code == 404
