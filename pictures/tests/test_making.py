"""The image choke point against local servers speaking ComfyUI's HTTP + websocket protocol, the OpenAI Images API
and Automatic1111's API: requests as each service expects them, progress, failover, and failures that say why."""

import io
import threading

import pytest
from PIL import Image

from pictures import making
from pictures.making import ImageRequest
from pictures.services import ImageBadResponse, closest_size, fill, load_workflow

REQUEST = ImageRequest(prompt="Portrait of Mara", negative="text, watermark", seed=1234, width=832, height=1216)


def size_of(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def test_without_a_service_the_error_says_how_to_enable_one(image_services):
    assert not making.available()
    with pytest.raises(making.ImageError, match="set COMFYUI_URL .* OPENAI_IMAGES_BASE_URL .* A1111_URL"):
        making.make(REQUEST)


@pytest.mark.parametrize("workflow", ["sdxl", "flux"])
def test_comfyui_runs_the_shipped_workflow_and_follows_progress_on_its_websocket(image_services, settings, workflow):
    settings.COMFYUI_URLS, settings.COMFYUI_WORKFLOW = [image_services["comfyui"].url], workflow
    reported = []

    made = making.make(REQUEST, progress=lambda done, total: reported.append((done, total)))

    body = image_services["comfyui"].state["bodies"][0]
    nodes = {node["class_type"]: node["inputs"] for node in body["prompt"].values()}
    assert nodes["KSampler"]["seed"] == 1234 and nodes["KSampler"]["steps"] == settings.COMFYUI_STEPS
    latent = next(inputs for kind, inputs in nodes.items() if "Latent" in kind)
    assert (latent["width"], latent["height"]) == (832, 1216)
    texts = [n["inputs"]["text"] for n in body["prompt"].values() if n["class_type"] == "CLIPTextEncode"]
    assert "Portrait of Mara" in texts and ("text, watermark" in texts) == (workflow == "sdxl")
    assert not any(
        isinstance(v, str) and v.startswith("$") for n in body["prompt"].values() for v in n["inputs"].values()
    )
    assert body["client_id"]
    # Only this prompt's progress counts (another prompt's event came first), and it ends at the last step.
    assert reported and reported[-1][1] == settings.COMFYUI_STEPS and all(total != 0 for _, total in reported)
    assert size_of(made.data) == (52, 76) and made.seed == 1234 and made.service.startswith(f"ComfyUI {workflow}")


def test_comfyui_failure_in_the_workflow_is_reported(image_services, settings):
    settings.COMFYUI_URLS = [image_services["comfyui"].url]
    image_services["comfyui"].state["fail"] = "CUDA out of memory"
    with pytest.raises(making.ImageError, match="failed on the image: CUDA out of memory"):
        making.make(REQUEST)


def test_cancelling_stops_the_comfyui_prompt(image_services, settings):
    settings.COMFYUI_URLS = [image_services["comfyui"].url]
    image_services["comfyui"].state["step_delay"] = 0.3
    stop = threading.Event()
    threading.Timer(0.4, stop.set).start()
    with pytest.raises(making.Cancelled):
        making.make(REQUEST, should_cancel=stop.is_set)
    state = image_services["comfyui"].state
    assert state["deleted"]["delete"] == [state["interrupted"]["prompt_id"]]


def test_the_images_api_gets_the_closest_size_and_the_negative_prompt_in_words(image_services, settings):
    settings.OPENAI_IMAGES_BASE_URL = image_services["openai"].url + "/v1"
    made = making.make(REQUEST)
    body = image_services["openai"].state["bodies"][0]
    assert body["size"] == "1024x1536" and body["model"] == "gpt-image-1" and body["n"] == 1
    assert body["prompt"] == "Portrait of Mara\nAvoid: text, watermark"
    assert made.seed is None and size_of(made.data) == (64, 96)
    assert closest_size(1216, 832, ["1024x1024", "1024x1792", "1792x1024"]) == "1792x1024"


def test_automatic1111_takes_the_seed_and_reports_progress(image_services, settings):
    settings.A1111_URLS = [image_services["a1111"].url]
    image_services["a1111"].state["delay"] = 1.2
    made = making.make(REQUEST)
    body = image_services["a1111"].state["bodies"][0]
    assert (body["seed"], body["width"], body["height"], body["negative_prompt"]) == (
        1234,
        832,
        1216,
        "text, watermark",
    )
    assert made.seed == 1234 and image_services["a1111"].state["progress_polls"] >= 1


def test_a_service_that_is_down_hands_over_to_the_next_and_goes_last_for_a_while(image_services, settings):
    dead = image_services["comfyui"]
    dead.close()
    settings.COMFYUI_URLS, settings.A1111_URLS = [dead.url], [image_services["a1111"].url]
    made = making.make(REQUEST)
    assert made.service == "Automatic1111"
    ordered = making.in_order(making.configured())
    assert [s.name for s in ordered] == ["Automatic1111", "ComfyUI"]


def test_every_failure_is_named_when_no_service_makes_the_picture(image_services, settings):
    image_services["openai"].state["status"] = 503
    image_services["a1111"].state["status"] = 500
    settings.OPENAI_IMAGES_BASE_URL = image_services["openai"].url + "/v1"
    settings.A1111_URLS = [image_services["a1111"].url]
    with pytest.raises(making.ImageError) as failure:
        making.make(REQUEST)
    assert "Images API at" in str(failure.value) and "HTTP 503" in str(failure.value)
    assert "Automatic1111 at" in str(failure.value) and "HTTP 500" in str(failure.value)


def test_a_slow_service_times_out(image_services, settings):
    settings.IMAGE_TIMEOUT = 1
    settings.A1111_URLS = [image_services["a1111"].url]
    image_services["a1111"].state["delay"] = 3
    with pytest.raises(making.ImageError, match="took longer than 1s"):
        making.make(REQUEST)


def test_an_answer_larger_than_the_limit_is_not_read_whole(image_services, settings):
    settings.PICTURE_MAX_BYTES = 200
    settings.COMFYUI_URLS = [image_services["comfyui"].url]
    with pytest.raises(making.ImageError, match="sent more than"):
        making.make(REQUEST)


def test_workflows_ship_as_data_with_every_placeholder_filled():
    for name in ("sdxl", "flux"):
        workflow = fill(load_workflow(name), {"prompt": "p", "negative": "n", "seed": 1, "width": 8, "height": 8,
                                              "steps": 2, "checkpoint": "c"})  # fmt: skip
        assert "$" not in str(workflow)
    with pytest.raises(making.ImageError, match="no ComfyUI workflow “../etc/passwd”"):
        load_workflow("../etc/passwd")
    assert issubclass(ImageBadResponse, making.ImageError)


def test_an_image_address_is_fetched_from_the_service_itself_and_nowhere_else(image_services, settings):
    openai_server, elsewhere = image_services["openai"], image_services["a1111"]
    settings.OPENAI_IMAGES_BASE_URL = openai_server.url + "/v1"
    openai_server.state["url"] = openai_server.url + "/files/image.png"
    assert size_of(making.make(REQUEST).data) == (64, 96) and openai_server.state["fetched"] == ["/files/image.png"]

    making._down_until.clear()
    for address in (elsewhere.url + "/sdapi/v1/progress", "http://169.254.169.254/latest/meta-data/"):
        openai_server.state["url"] = address
        with pytest.raises(making.ImageError, match="sent an image address on another host; it was not fetched"):
            making.make(REQUEST)
        making._down_until.clear()
    assert not any(r.path == "/sdapi/v1/progress" for r in elsewhere.requests)

    openai_server.state["url"] = openai_server.url + "/files/missing.png"
    with pytest.raises(making.ImageError, match="answered HTTP 404"):  # a streamed error answer is not read for it
        making.make(REQUEST)


def test_a_service_address_with_a_password_never_shows_it(image_services, settings):
    server = image_services["openai"]
    server.state["status"] = 400
    settings.OPENAI_IMAGES_BASE_URL = server.url.replace("http://", "http://writer:s3cret@") + "/v1"
    with pytest.raises(making.ImageError) as failure:
        making.make(REQUEST)
    assert "Images API at http://127.0.0.1" in str(failure.value) and "s3cret" not in str(failure.value)


def test_a_workflow_comfyui_refuses_names_the_reason_it_gave_and_what_to_set(image_services, settings):
    settings.COMFYUI_URLS = [image_services["comfyui"].url]
    settings.COMFYUI_WORKFLOW, settings.COMFYUI_CHECKPOINT = "sdxl", "sd_xl_base_1.0.safetensors"
    image_services["comfyui"].state["checkpoints"] = ["v1-5-pruned.safetensors"]
    with pytest.raises(making.ImageError) as refused:
        making.make(REQUEST)
    message = str(refused.value)
    assert "Prompt outputs failed validation" in message
    assert "ckpt_name: 'sd_xl_base_1.0.safetensors' not in ['v1-5-pruned.safetensors']" in message
    assert "Set COMFYUI_CHECKPOINT" in message
