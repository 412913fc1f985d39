"""A writer draws a portrait from the cast page: a worker asks a local ComfyUI (HTTP and websocket), the progress
and the picture arrive over the websocket, and once accepted the portrait is on the cast page."""

import re

import pytest
from playwright.sync_api import expect

from pictures.models import Picture
from tests.factories import cast, make_character, make_story, make_user
from tests.httpserver import LocalServer
from tests.image_servers import serve_comfyui

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def comfyui():
    server = LocalServer()
    serve_comfyui(server)
    server.state["step_delay"] = 0.3  # slow enough for the progress to be seen
    yield server
    server.close()


@pytest.fixture
def worker_env(comfyui):
    return {"COMFYUI_URL": comfyui.url, "GENERATION_SLOTS": "1", "IMAGE_RETRIES": "0"}


def test_a_writer_draws_a_portrait_and_sees_it_on_the_cast_page(web_page, start_worker, comfyui, screenshot):
    writer = make_user()
    story = make_story(writer, title="The Keeper", genre="Fantasy")
    mara = make_character(writer, name="Mara", appearance="Grey eyes, salt-white hair, a sailor's coat.")
    cast(story, mara, role="protagonist", importance=9)
    page = web_page(writer)
    page.goto(f"/stories/{story.pk}/cast/")
    expect(page.locator('.portrait-none:near(:text("Mara"))').first).to_be_visible()

    page.click(f"[data-draw-portrait='{mara.pk}']")
    team = page.locator("aside:has-text('How the team worked')")
    expect(team.locator("[data-team-waiting]")).to_be_visible()  # no worker yet: the page says what it waits for
    start_worker()
    panel = page.locator(".task-panel")
    expect(panel.locator("[data-task-status]")).to_have_text("Succeeded")
    # The team's steps fill in as the task runs, without reloading the page.
    expect(team).to_contain_text("Visual storytelling")
    expect(team.locator("[data-team-waiting]")).to_have_count(0)
    expect(panel.locator("img.picture")).to_be_visible()
    assert page.evaluate("() => document.querySelector('.task-panel img.picture').naturalWidth") > 0
    expect(panel).to_contain_text("seed")
    screenshot(page, "15-portrait-proposed")

    page.click("text=Use this portrait")
    expect(page).to_have_url(re.compile(f"/stories/{story.pk}/cast/$"))
    portrait = page.locator(f"[data-portrait='{mara.pk}']")
    expect(portrait).to_be_visible()
    assert page.evaluate(f"() => document.querySelector(\"[data-portrait='{mara.pk}']\").naturalWidth") > 0
    screenshot(page, "16-cast-with-portrait")
    page.click("text=Pictures")
    expect(page.locator(".portrait-list")).to_contain_text("Mara")
    screenshot(page, "19-pictures-page")
    picture = Picture.objects.get()
    assert picture.status == "accepted" and "Grey eyes, salt-white hair" in picture.prompt
    assert comfyui.state["bodies"][0]["prompt"]["3"]["inputs"]["seed"] == mara.portrait_seed
