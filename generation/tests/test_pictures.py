"""Portraits and illustrations as tasks: made through a local image service, offered to the writer, accepted into
the cast and the gallery, and private to their owner."""

import io

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from agents.models import Fact
from api.models import ApiToken
from characters.models import Character
from generation.models import GenerationTask
from generation.tasks import run_generation
from pictures.models import Picture
from tests.factories import cast, make_chapter, make_character
from tests.responses import streamed_body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def comfyui(image_services, settings, redis_conn):
    settings.COMFYUI_URLS = [image_services["comfyui"].url]
    settings.GENERATION_SLOTS = 1
    return image_services["comfyui"]


def ask_portrait(client, story, character, **data):
    return client.post(reverse("portrait_request", args=[story.pk, character.pk]), data)


def finished(task) -> GenerationTask:
    run_generation(str(task.pk))
    task.refresh_from_db()
    return task


def test_a_portrait_is_drawn_from_the_codex_with_the_characters_seed(writer_client, story_with_cast, comfyui):
    story, chapter = story_with_cast
    mara = story.characters.get(name="Mara")
    Fact.objects.create(story=story, chapter=chapter, subject="Mara", attribute="appearance", aspect="scar",
                        value="a thin scar across her left cheek", quote="x")  # fmt: skip
    story.generation_settings = {**story.generation_settings, "image_style": "watercolour"}
    story.save()

    response = ask_portrait(writer_client, story, mara, note="Smiling")
    task = GenerationTask.objects.get(mode="portrait")
    assert response["Location"] == task.get_absolute_url()
    task = finished(task)

    assert task.status == "succeeded" and task.proposal_status == "pending", task.error
    picture = task.picture
    assert picture.status == "proposed" and picture.character == mara and picture.seed == mara.portrait_seed
    for expected in ("Portrait of Mara", "Grey eyes, salt-white hair", "a thin scar across her left cheek",
                     "Smiling", "watercolour painting"):  # fmt: skip
        assert expected in picture.prompt
    sent = comfyui.state["bodies"][0]["prompt"]
    sampler = next(n["inputs"] for n in sent.values() if n["class_type"] == "KSampler")
    assert sampler["seed"] == mara.portrait_seed
    assert (picture.width, picture.height) == (52, 76) and picture.content_type == "image/png"
    assert b"secret workflow" not in picture.image.read()  # the service's metadata is gone
    page = writer_client.get(task.get_absolute_url()).content.decode()
    assert picture.thumbnail_url in page and "Use this portrait" in page

    response = writer_client.post(reverse("proposal_accept", args=[task.pk]))
    assert response["Location"] == reverse("story_cast", args=[story.pk])
    cast_page = writer_client.get(reverse("story_cast", args=[story.pk])).content.decode()
    assert f'data-portrait="{mara.pk}"' in cast_page and picture.thumbnail_url in cast_page
    assert picture.thumbnail_url in writer_client.get(mara.get_absolute_url()).content.decode()
    again = writer_client.post(reverse("proposal_accept", args=[task.pk]), follow=True)
    assert "already accepted or discarded" in again.content.decode()


def test_a_new_look_draws_a_new_seed_which_stays_once_accepted(writer_client, story_with_cast, comfyui):
    story, _ = story_with_cast
    mara = story.characters.get(name="Mara")
    old_seed = mara.portrait_seed
    ask_portrait(writer_client, story, mara, new_look="on")
    task = finished(GenerationTask.objects.get(mode="portrait"))
    assert task.picture.seed != old_seed
    writer_client.post(reverse("proposal_accept", args=[task.pk]))
    mara.refresh_from_db()
    assert mara.portrait_seed == task.picture.seed

    # Regenerating keeps the person (the same seed); the earlier proposal is set aside only once the new one starts.
    ask_portrait(writer_client, story, mara)
    first = finished(GenerationTask.objects.filter(mode="portrait").first())
    writer_client.post(reverse("task_regenerate", args=[first.pk]), {"note": "in armour"})
    second = finished(GenerationTask.objects.filter(mode="portrait").first())
    first.refresh_from_db()
    assert first.proposal_status == "discarded" and first.picture.status == "discarded"
    assert second.picture.seed == first.picture.seed == mara.portrait_seed and "in armour" in second.picture.prompt


def test_a_chapter_illustration_shows_the_people_in_it_as_they_look_then(writer_client, user, story_with_cast, comfyui):
    story, first = story_with_cast
    tomas = make_character(user, name="Tomas", appearance="Tall, black beard.")
    cast(story, tomas)
    second = make_chapter(story, title="The Lamp", content="The tide turned.\n\nMara and Tomas climbed to the lamp "
                          "together, the storm beating on the glass.\n\nLater she slept.")  # fmt: skip
    later = make_chapter(story, title="After", content="Tomas shaved.")
    Fact.objects.create(story=story, chapter=first, subject="Tomas", attribute="appearance", aspect="beard",
                        value="a beard white with salt", quote="x")  # fmt: skip
    Fact.objects.create(story=story, chapter=later, subject="Tomas", attribute="appearance", aspect="beard",
                        value="clean-shaven", quote="x", is_change=True)  # fmt: skip

    response = writer_client.post(reverse("chapter_illustrate", args=[story.pk, second.pk]))
    task = finished(GenerationTask.objects.get(mode="illustrate"))
    assert response.status_code == 302 and task.status == "succeeded", task.error

    prompt = task.picture.prompt
    assert "Mara and Tomas climbed to the lamp together" in prompt  # the passage where the cast meet
    assert "Tomas: Tall, black beard.; a beard white with salt" in prompt and "clean-shaven" not in prompt
    assert "Mara: Grey eyes, salt-white hair." in prompt
    assert task.picture.kind == "scene" and task.picture.chapter == second
    assert (task.picture.width, task.picture.height) == (76, 52)

    gallery = writer_client.get(reverse("story_gallery", args=[story.pk])).content.decode()
    assert task.picture.thumbnail_url in gallery and "Waiting for you" in gallery
    writer_client.post(reverse("proposal_accept", args=[task.pk]))
    gallery = writer_client.get(reverse("story_gallery", args=[story.pk])).content.decode()
    assert "In the book" in gallery


def test_accepting_a_chapter_from_the_agents_proposes_its_illustration(writer_client, fake_ollama, story_with_cast,
                                                                       image_services, settings):  # fmt: skip
    settings.A1111_URLS = [image_services["a1111"].url]
    story, chapter = story_with_cast
    story.generation_settings = {**story.generation_settings, "images_enabled": True}
    story.save()
    writer_client.post(reverse("generate", args=[story.pk]), {"mode": "next_chapter", "chapter": chapter.pk})
    task = finished(GenerationTask.objects.get())
    response = writer_client.post(reverse("proposal_accept", args=[task.pk]), follow=True)
    assert "An illustration of the chapter is being made" in response.content.decode()
    illustration = GenerationTask.objects.get(mode="illustrate")
    assert illustration.chapter.title == "Chapter 2"
    assert finished(illustration).picture.service == "Automatic1111"


def test_a_discarded_picture_leaves_the_gallery(writer_client, story_with_cast, comfyui):
    story, chapter = story_with_cast
    writer_client.post(reverse("chapter_illustrate", args=[story.pk, chapter.pk]))
    task = finished(GenerationTask.objects.get())
    response = writer_client.post(reverse("proposal_discard", args=[task.pk]))
    assert response["Location"] == reverse("story_gallery", args=[story.pk])
    assert task.picture.thumbnail_url not in writer_client.get(response["Location"]).content.decode()
    assert Picture.objects.get().status == "discarded"


def test_a_failing_service_fails_the_task_with_its_reason_and_nothing_is_kept(writer_client, story_with_cast,
                                                                               image_services, settings):  # fmt: skip
    settings.OPENAI_IMAGES_BASE_URL = image_services["openai"].url + "/v1"
    image_services["openai"].state["not_image"] = True
    story, chapter = story_with_cast
    mara = story.characters.get(name="Mara")
    ask_portrait(writer_client, story, mara)
    task = finished(GenerationTask.objects.get())
    assert task.status == "failed" and "not a usable picture" in task.error and "not an image" in task.error
    assert not Picture.objects.exists()
    page = writer_client.get(task.get_absolute_url()).content.decode()
    assert "not a usable picture" in page and "Try again" in page

    image_services["openai"].state.update(not_image=False, huge=True)
    task = finished(GenerationTask.objects.get(pk=ask_portrait(writer_client, story, mara)["Location"].split("/")[2]))
    assert task.status == "failed" and "megapixels" in task.error


def test_without_an_image_service_every_control_says_how_to_enable_one(writer_client, story_with_cast, image_services):
    story, chapter = story_with_cast
    mara = story.characters.get(name="Mara")
    response = ask_portrait(writer_client, story, mara)
    assert response.status_code == 400 and "set COMFYUI_URL" in response.content.decode()
    for url in (
        reverse("story_cast", args=[story.pk]),
        mara.get_absolute_url(),
        reverse("story_gallery", args=[story.pk]),
    ):
        page = writer_client.get(url).content.decode()
        assert "data-images-off" in page and "set COMFYUI_URL" in page and "Draw portrait" not in page
    editor = writer_client.get(chapter.get_absolute_url()).content.decode()
    assert "Illustrate this chapter" not in editor
    assert not GenerationTask.objects.exists()


def test_the_daily_limit_on_pictures_is_a_429_with_a_reason(writer_client, story_with_cast, comfyui, settings):
    settings.IMAGES_PER_USER_PER_DAY = 1
    story, chapter = story_with_cast
    mara = story.characters.get(name="Mara")
    assert ask_portrait(writer_client, story, mara).status_code == 302
    response = ask_portrait(writer_client, story, mara)
    assert response.status_code == 429 and "daily limit" in response.content.decode() and response["Retry-After"]


def test_pictures_are_private_to_their_owner(writer_client, other_client, story_with_cast, comfyui):
    story, chapter = story_with_cast
    mara = story.characters.get(name="Mara")
    ask_portrait(writer_client, story, mara)
    task = finished(GenerationTask.objects.get())
    picture = task.picture
    image = writer_client.get(picture.get_absolute_url())
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(streamed_body(image))).size == (52, 76)
    assert writer_client.get(picture.thumbnail_url)["Content-Type"] == "image/webp"
    for url in (picture.get_absolute_url(), picture.thumbnail_url, reverse("story_gallery", args=[story.pk])):
        assert other_client.get(url).status_code == 404
    posts = [
        reverse("portrait_request", args=[story.pk, mara.pk]),
        reverse("proposal_accept", args=[task.pk]),
        reverse("chapter_illustrate", args=[story.pk, chapter.pk]),
        reverse("picture_delete", args=[picture.pk]),
    ]
    for url in posts:
        assert other_client.post(url).status_code == 404
    assert Picture.objects.get().status == "proposed"
    assert not Character.objects.filter(pk=mara.pk, portrait_seed=None).exists()
    assert other_client.get(reverse("api_task_status", args=[task.pk])).status_code == 404
    status = writer_client.get(reverse("api_task_status", args=[task.pk])).json()
    assert status["picture"]["status"] == "proposed"
    _, key = ApiToken.issue(picture.owner, "tests")
    fetched = Client(headers={"Authorization": f"Bearer {key}"}).get(status["picture"]["url"])
    assert fetched.status_code == 200 and streamed_body(fetched) == picture.image.read()
    assert other_client.get(status["picture"]["url"]).status_code == 404


def test_a_capable_model_picks_and_describes_the_moment(writer_client, story_with_cast, comfyui, fake_ollama):
    story, chapter = story_with_cast
    fake_ollama.state["reply"] = lambda body: "Mara on the rocks at dawn, watching the ship dock, wind in her hair."
    writer_client.post(reverse("chapter_illustrate", args=[story.pk, chapter.pk]), {"note": "no other people"})
    task = finished(GenerationTask.objects.get())
    asked = [r.json() for r in fake_ollama.requests if r.path == "/api/chat"][-1]["messages"][0]["content"]
    assert "Choose the single most striking moment" in asked and "The ship docked at dawn." in asked
    prompt = task.picture.prompt
    assert prompt.startswith("Mara on the rocks at dawn, watching the ship dock") and "no other people" in prompt
    assert "Mara: Grey eyes, salt-white hair." in prompt
    assert task.steps.get(key="illustrate").model == "llama3.1"
