"""Clients for the image services, each speaking its own protocol: ComfyUI (HTTP + websocket), an OpenAI-compatible
Images API, and Automatic1111 / SD.Next. `pictures/making.py` chooses between them; nothing else calls them."""

import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import openai
from django.conf import settings
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from core.http import without_credentials as public
from core.services import ServiceError
from pictures.images import megabytes

WORKFLOWS = Path(__file__).resolve().parent / "workflows"
POLL_SECONDS = 1.0


class ImageError(ServiceError):
    """An image service failed; the task stops with this message."""


class ImageUnavailable(ImageError):
    """The service could not be reached or is overloaded: worth trying another, or again later."""


class ImageBadResponse(ImageError):
    """The service answered, but not with an image (an error in the workflow, a refused prompt, garbage)."""


def refusal_reason(answer) -> str:
    """Why ComfyUI refused a workflow, in its own words: its `error` says only that validation failed, the reason
    per node is in `node_errors` (a checkpoint it does not have, say), and with it what to set."""
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300]
    reasons = [
        f"{node.get('class_type', 'node ' + number)}: {e.get('details') or e.get('message', '')}"
        for number, node in (body.get("node_errors") or {}).items()
        for e in node.get("errors", [])
    ]
    message = "; ".join([body.get("error", {}).get("message", "no reason given"), *reasons])[:600]
    if any("ckpt_name" in reason for reason in reasons):
        message += ". Set COMFYUI_CHECKPOINT to one of the checkpoints it has"
    return message


@dataclass
class ImageRequest:
    prompt: str
    negative: str = ""
    seed: int = 0
    width: int = 1024
    height: int = 1024


@dataclass
class MadeImage:
    data: bytes
    service: str  # which service and model, for the picture's record
    seed: int | None  # None when the service does not take a seed


class Cancelled(Exception):
    pass


class ImageService:
    name = ""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def __str__(self):
        return f"{self.name} at {public(self.url)}"

    def own_url(self, url: str) -> str:
        """An address the service sent (an image to fetch), refused unless it is on the service's own host and
        port: a service, or whoever answers in its place, must not send the worker to another machine (a cloud's
        metadata address, a database on the private network)."""
        service, target = urlsplit(self.url), urlsplit(urljoin(self.url + "/", url))
        ports = {"http": 80, "https": 443}
        if target.scheme not in ports or (target.hostname, target.port or ports[target.scheme]) != (
            service.hostname, service.port or ports.get(service.scheme)
        ):  # fmt: skip
            raise ImageBadResponse(f"{self} sent an image address on another host; it was not fetched.")
        return urlunsplit(target)

    def make(self, request: ImageRequest, progress, should_cancel) -> MadeImage:
        raise NotImplementedError

    # What a small call that makes no picture asks the service (for the staff's services page), and what the
    # answer says: the models it offers.
    probe_path = ""

    def probe(self) -> str:
        with self.http() as http, http_errors(self):
            answer = http.get(self.probe_path, timeout=10)
            answer.raise_for_status()
            return self.models_in(answer.json())

    def models_in(self, answer) -> str:
        return "answered"

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=httpx.Timeout(settings.IMAGE_TIMEOUT, connect=10))

    def read_limited(self, response: httpx.Response) -> bytes:
        """The body, but no more than PICTURE_MAX_BYTES of it: a service cannot fill the worker's memory."""
        limit, chunks, size = settings.PICTURE_MAX_BYTES, [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise ImageBadResponse(f"{self} sent more than {megabytes(limit)}; the image was refused.")
            chunks.append(chunk)
        return b"".join(chunks)

    def decode(self, text: str) -> bytes:
        if len(text) > settings.PICTURE_MAX_BYTES * 4 // 3 + 4:
            raise ImageBadResponse(f"{self} sent more than {megabytes(settings.PICTURE_MAX_BYTES)}.")
        try:
            return base64.b64decode(text, validate=True)
        except (ValueError, TypeError) as exc:
            raise ImageBadResponse(f"{self} sent an image that is not valid base64.") from exc


def body_of(response: httpx.Response) -> str:
    """ ": " and the start of an error answer's body, when it was read (a streamed answer is not read for this)."""
    try:
        return f": {response.text[:300]}" if response.text.strip() else ""
    except httpx.ResponseNotRead:
        return ""


@contextmanager
def http_errors(service: ImageService):
    """httpx failures as the image errors the chooser understands."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ImageUnavailable(f"{service} took longer than {settings.IMAGE_TIMEOUT}s.") from exc
    except httpx.TransportError as exc:
        raise ImageUnavailable(f"Cannot reach {service}.") from exc
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        if status >= 500 or status == 429:
            raise ImageUnavailable(f"{service} is failing or busy (HTTP {status}).") from exc
        raise ImageBadResponse(f"{service} answered HTTP {status}{body_of(exc.response)}") from exc
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ImageBadResponse(f"{service} sent an answer this app cannot read ({exc}).") from exc


# --- ComfyUI --------------------------------------------------------------------------------------------------------


def load_workflow(name: str) -> dict:
    path = WORKFLOWS / f"{Path(name).name}.json"
    if not path.exists():
        raise ImageError(f"There is no ComfyUI workflow “{name}”.", hint="Check COMFYUI_WORKFLOW.")
    return json.loads(path.read_text())


def fill(node, values: dict):
    """The workflow with each "$name" string replaced by its value (typed: a seed stays a number)."""
    if isinstance(node, dict):
        return {key: fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [fill(value, values) for value in node]
    if isinstance(node, str) and node.startswith("$") and node[1:] in values:
        return values[node[1:]]
    return node


class ComfyUI(ImageService):
    """Queues an API-format workflow (POST /prompt), follows it on the /ws websocket for progress and its end,
    then reads the output's file name from /history/<id> and the image from /view."""

    name = "ComfyUI"

    probe_path = "/object_info/CheckpointLoaderSimple"

    def models_in(self, answer) -> str:
        """The checkpoints it has; the one this site's workflow asks for (COMFYUI_CHECKPOINT) must be among them."""
        try:
            names = answer["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise ImageBadResponse(f"{self} did not list its checkpoints ({exc}).") from exc
        wanted = settings.COMFYUI_CHECKPOINT
        if wanted and wanted not in names:
            raise ImageBadResponse(
                f"{self} has no checkpoint “{wanted}”; it has: {', '.join(names) or 'none'}. Set COMFYUI_CHECKPOINT "
                "to one of them (or put the file in ComfyUI's models/checkpoints)."
            )
        return f"answered; checkpoints: {', '.join(names)}; the workflow uses {wanted or 'its own'}"

    def make(self, request, progress, should_cancel):
        workflow = fill(
            load_workflow(settings.COMFYUI_WORKFLOW),
            {
                "prompt": request.prompt, "negative": request.negative, "seed": request.seed,
                "width": request.width, "height": request.height, "steps": settings.COMFYUI_STEPS,
                "checkpoint": settings.COMFYUI_CHECKPOINT,
            },
        )  # fmt: skip
        client_id = uuid.uuid4().hex
        with self.http() as http, http_errors(self):
            # Connect first: a fast server could finish before a late listener hears about it.
            with self.websocket(client_id) as ws:
                answer = http.post("/prompt", json={"prompt": workflow, "client_id": client_id})
                if answer.status_code == 400:  # the workflow does not fit the server's nodes or models
                    raise ImageBadResponse(f"{self} refused the workflow: {refusal_reason(answer)}")
                answer.raise_for_status()
                prompt_id = answer.json()["prompt_id"]
                try:
                    self.follow(ws, prompt_id, progress, should_cancel)
                except Cancelled:
                    http.post("/interrupt", json={"prompt_id": prompt_id})
                    http.post("/queue", json={"delete": [prompt_id]})
                    raise
            history = http.get(f"/history/{prompt_id}")
            history.raise_for_status()
            outputs = history.json()[prompt_id]["outputs"]
            images = [i for node in outputs.values() for i in node.get("images", []) if i.get("type") == "output"]
            if not images:
                raise ImageBadResponse(f"{self} finished the workflow without saving an image.")
            image = images[0]
            params = {"filename": image["filename"], "subfolder": image.get("subfolder", ""), "type": "output"}
            with http.stream("GET", "/view", params=params) as response:
                response.raise_for_status()
                data = self.read_limited(response)
        model = settings.COMFYUI_CHECKPOINT.rsplit(".", 1)[0]
        return MadeImage(data=data, service=f"ComfyUI {settings.COMFYUI_WORKFLOW} ({model})", seed=request.seed)

    def websocket(self, client_id: str):
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        address = urlunsplit((scheme, parts.netloc, parts.path + "/ws", f"clientId={client_id}", ""))
        try:
            return connect(address, open_timeout=10, max_size=16 * 1024 * 1024)
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise ImageUnavailable(f"Cannot open the progress websocket of {self}.") from exc

    def follow(self, ws, prompt_id: str, progress, should_cancel):
        """Read events until the prompt has run; previews (binary frames) and other prompts' events are skipped."""
        deadline = time.monotonic() + settings.IMAGE_TIMEOUT
        while True:
            if should_cancel():
                raise Cancelled()
            if time.monotonic() > deadline:
                raise ImageUnavailable(f"{self} took longer than {settings.IMAGE_TIMEOUT}s.")
            try:
                message = ws.recv(timeout=POLL_SECONDS)
            except TimeoutError:
                continue
            except WebSocketException as exc:
                raise ImageUnavailable(f"{self} closed the progress websocket while the image was made.") from exc
            if isinstance(message, bytes):
                continue
            event = json.loads(message)
            data = event.get("data") or {}
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            kind = event.get("type")
            if kind == "progress":
                progress(int(data.get("value", 0)), int(data.get("max", 1)) or 1)
            elif kind == "execution_error":
                raise ImageBadResponse(f"{self} failed on the image: {data.get('exception_message', 'no reason')}")
            elif kind == "execution_success" or (kind == "executing" and data.get("node") is None):
                return


# --- OpenAI-compatible Images API ---------------------------------------------------------------------------------


def closest_size(width: int, height: int, sizes: list[str]) -> str:
    """Of the sizes a service accepts ("1024x1536"), the one closest in shape to width x height."""

    def shape(size):
        w, h = (int(n) for n in size.lower().split("x"))
        return abs(w / h - width / height)

    return min(sizes, key=shape)


class OpenAIImages(ImageService):
    """POST /v1/images/generations through the openai client; the image comes back as base64 (or, from some
    servers, as a URL that is then fetched)."""

    name = "Images API"

    probe_path = "models"

    def models_in(self, answer) -> str:
        models = [m.get("id", "") for m in answer.get("data", []) if isinstance(m, dict)]
        listed = ", ".join(models) or "none listed"
        return f"answered; models: {listed}; this site asks for {settings.OPENAI_IMAGES_MODEL}"

    def make(self, request, progress, should_cancel):
        model = settings.OPENAI_IMAGES_MODEL
        client = openai.OpenAI(
            base_url=self.url, api_key=settings.OPENAI_IMAGES_API_KEY, timeout=settings.IMAGE_TIMEOUT, max_retries=0
        )
        prompt = request.prompt + (f"\nAvoid: {request.negative}" if request.negative else "")
        extra = {"response_format": "b64_json"} if model.startswith("dall-e") else {}
        size = closest_size(request.width, request.height, settings.OPENAI_IMAGES_SIZES)
        try:
            answer = client.images.generate(model=model, prompt=prompt[:4000], n=1, size=size, **extra)
            item = answer.data[0]
        except openai.APITimeoutError as exc:
            raise ImageUnavailable(f"{self} took longer than {settings.IMAGE_TIMEOUT}s.") from exc
        except openai.APIConnectionError as exc:
            raise ImageUnavailable(f"Cannot reach {self}.") from exc
        except openai.AuthenticationError as exc:
            raise ImageError(f"{self} refused the API key.", hint="Check OPENAI_IMAGES_API_KEY.") from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise ImageUnavailable(f"{self} is failing or busy (HTTP {exc.status_code}).") from exc
            raise ImageBadResponse(f"{self} answered HTTP {exc.status_code}: {exc.message}") from exc
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ImageBadResponse(f"{self} sent an answer that is not an image ({exc}).") from exc
        progress(1, 1)
        if item.b64_json:
            data = self.decode(item.b64_json)
        elif item.url:
            with self.http() as http, http_errors(self), http.stream("GET", self.own_url(item.url)) as response:
                response.raise_for_status()
                data = self.read_limited(response)
        else:
            raise ImageBadResponse(f"{self} answered without an image.")
        return MadeImage(data=data, service=f"Images API ({model})", seed=None)


# --- Automatic1111 / SD.Next ----------------------------------------------------------------------------------------


class Automatic1111(ImageService):
    """POST /sdapi/v1/txt2img, while /sdapi/v1/progress is polled for the progress bar."""

    name = "Automatic1111"
    probe_path = "/sdapi/v1/sd-models"

    def models_in(self, answer) -> str:
        titles = [m.get("title", "") for m in answer if isinstance(m, dict)] if isinstance(answer, list) else []
        return f"answered; checkpoints: {', '.join(titles) or 'none'}"

    def make(self, request, progress, should_cancel):
        body = {
            "prompt": request.prompt, "negative_prompt": request.negative, "seed": request.seed,
            "width": request.width, "height": request.height, "steps": settings.A1111_STEPS, "batch_size": 1,
            "n_iter": 1,
        }  # fmt: skip
        with self.http() as http, http_errors(self), ThreadPoolExecutor(max_workers=1) as pool:
            job = pool.submit(http.post, "/sdapi/v1/txt2img", json=body)
            while not job.done():
                if should_cancel():
                    http.post("/sdapi/v1/interrupt")
                    job.cancel()
                    raise Cancelled()
                try:
                    state = http.get("/sdapi/v1/progress", params={"skip_current_image": "true"}, timeout=5).json()
                    progress(int(100 * float(state.get("progress") or 0)), 100)
                except (httpx.HTTPError, ValueError, TypeError):
                    pass  # the bar is a courtesy; the image is what counts
                time.sleep(POLL_SECONDS)
            answer = job.result()
            answer.raise_for_status()
            payload = answer.json()
            data = self.decode(payload["images"][0])
            info = json.loads(payload.get("info") or "{}")
        return MadeImage(data=data, service="Automatic1111", seed=int(info.get("seed", request.seed)))


def configured() -> list[ImageService]:
    """The services set up on this site, in the order they are tried."""
    return (
        [ComfyUI(url) for url in settings.COMFYUI_URLS]
        + ([OpenAIImages(settings.OPENAI_IMAGES_BASE_URL)] if settings.OPENAI_IMAGES_BASE_URL else [])
        + [Automatic1111(url) for url in settings.A1111_URLS]
    )
