"""Local servers that speak the image services' protocols, for tests: ComfyUI (HTTP and its /ws websocket), the
OpenAI Images API and Automatic1111's API. Each answers with a PNG drawn by Pillow, so what comes back can be
checked (its size, its colour); `state` switches a server to a failure (slow, an error, not an image, too big).
"""

import base64
import hashlib
import io
import json
import queue
import select
import struct
import time
import uuid
import zlib

from PIL import Image, PngImagePlugin

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def png(width=64, height=96, colour=(200, 40, 40), text_chunk: str | None = None) -> bytes:
    """A small PNG; with a text chunk (metadata that must not survive cleaning)."""
    info = None
    if text_chunk:
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", text_chunk)
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb's shape) with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def image_for(state: dict, width: int, height: int) -> bytes:
    """What a server sends as "the image" in its current state."""
    if state.get("delay"):
        time.sleep(state["delay"])
    if state.get("not_image"):
        return b"<html>Out of memory</html>"
    if state.get("huge"):
        return png_claiming(60000, 60000)
    # Scaled down (the tests need the shape, not the pixels), with the seed in the colour: same seed, same image.
    seed = state.get("last_seed", 0)
    colour = (seed % 256, (seed // 256) % 256, 120)
    return png(max(8, width // 16), max(8, height // 16), colour, text_chunk="prompt: secret workflow")


# --- OpenAI Images API ------------------------------------------------------------------------------------------------


def serve_openai_images(server, state=None):
    state = state if state is not None else {}

    @server.route("POST", "/v1/images/generations")
    def generations(request):
        body = request.json()
        state.setdefault("bodies", []).append(body)
        if state.get("status"):
            return state["status"], {}, {"error": {"message": "The server is overloaded", "type": "server_error"}}
        width, height = (int(n) for n in body.get("size", "1024x1024").split("x"))
        if state.get("url"):  # some servers answer with an address to fetch the image from
            state["image"] = image_for(state, width, height)
            return 200, {}, {"created": int(time.time()), "data": [{"url": state["url"]}]}
        data = base64.b64encode(image_for(state, width, height)).decode()
        return 200, {}, {"created": int(time.time()), "data": [{"b64_json": data, "revised_prompt": body["prompt"]}]}

    @server.route("GET", "/files/image.png")
    def file(request):
        state.setdefault("fetched", []).append(request.path)
        return 200, {"Content-Type": "image/png"}, state["image"]

    server.state = state
    return state


# --- Automatic1111 / SD.Next ----------------------------------------------------------------------------------------


def serve_a1111(server, state=None):
    state = state if state is not None else {}

    @server.route("POST", "/sdapi/v1/txt2img")
    def txt2img(request):
        body = request.json()
        state.setdefault("bodies", []).append(body)
        if state.get("status"):
            return state["status"], {}, {"error": "OutOfMemoryError", "detail": "CUDA out of memory"}
        state["last_seed"] = body.get("seed", -1)
        data = base64.b64encode(image_for(state, body["width"], body["height"])).decode()
        return 200, {}, {"images": [data], "parameters": body, "info": json.dumps({"seed": body.get("seed", -1)})}

    @server.route("GET", "/sdapi/v1/progress")
    def progress(request):
        state["progress_polls"] = state.get("progress_polls", 0) + 1
        return 200, {}, {"progress": 0.5, "eta_relative": 1.0, "state": {"job_count": 1}}

    @server.route("POST", "/sdapi/v1/interrupt")
    def interrupt(request):
        state["interrupted"] = True
        return 200, {}, {}

    server.state = state
    return state


# --- ComfyUI --------------------------------------------------------------------------------------------------------


def ws_frame(text: str) -> bytes:
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = struct.pack(">BB", 0x81, size)
    elif size < 65536:
        head = struct.pack(">BBH", 0x81, 126, size)
    else:
        head = struct.pack(">BBQ", 0x81, 127, size)
    return head + payload


def serve_comfyui(server, state=None):
    """POST /prompt queues a workflow for a client; that client's /ws websocket then hears progress and the end
    (as ComfyUI sends them), /history/<id> names the output file and /view returns it."""
    state = state if state is not None else {}
    clients: dict[str, queue.Queue] = {}
    history: dict[str, dict] = {}
    files: dict[str, bytes] = {}

    @server.route("POST", "/prompt")
    def prompt(request):
        body = request.json()
        state.setdefault("bodies", []).append(body)
        workflow = body["prompt"]
        if not all(isinstance(node, dict) and "class_type" in node for node in workflow.values()):
            return 400, {}, {"error": {"type": "invalid_prompt", "message": "Cannot execute because a node is missing"}}
        checkpoints = state.get("checkpoints")  # the models this server has, when a test names them
        for number, node in workflow.items():
            wanted = node["inputs"].get("ckpt_name")
            if checkpoints is not None and wanted is not None and wanted not in checkpoints:
                details = f"ckpt_name: '{wanted}' not in {checkpoints}"
                return 400, {}, {  # as ComfyUI 0.3 answers: the reason is in node_errors, not in error
                    "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                              "details": "", "extra_info": {}},
                    "node_errors": {number: {"errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                                         "details": details, "extra_info": {}}],
                                             "dependent_outputs": ["9"], "class_type": node["class_type"]}},
                }  # fmt: skip
        sampler = next(n for n in workflow.values() if n["class_type"] == "KSampler")
        latent = next(n for n in workflow.values() if "Latent" in n["class_type"])
        state["last_seed"] = sampler["inputs"]["seed"]
        prompt_id = str(uuid.uuid4())
        filename = f"storyassistant_{len(files):05}_.png"
        files[filename] = image_for(state, latent["inputs"]["width"], latent["inputs"]["height"])
        history[prompt_id] = {
            "prompt": [0, prompt_id, workflow, {}, ["9"]],
            "outputs": {"9": {"images": [{"filename": filename, "subfolder": "", "type": "output"}]}},
            "status": {"status_str": "success", "completed": True},
        }
        clients.setdefault(body.get("client_id", ""), queue.Queue()).put((prompt_id, sampler["inputs"]["steps"]))
        return 200, {}, {"prompt_id": prompt_id, "number": len(history), "node_errors": {}}

    @server.route("GET", "/object_info/CheckpointLoaderSimple")
    def checkpoints(request):  # as ComfyUI 0.3 lists a node's choices: [names, options]
        names = state.get("checkpoints", ["sd_xl_base_1.0.safetensors"])
        return 200, {}, {"CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [names, {}]}}}}

    @server.route("GET", "/history/*")
    def history_route(request):
        prompt_id = request.path.rsplit("/", 1)[-1]
        return 200, {}, {prompt_id: history[prompt_id]} if prompt_id in history else {}

    @server.route("GET", "/view")
    def view(request):
        name = request.query.get("filename", [""])[0]
        if name not in files:
            return 404, {}, "Not found"
        return 200, {"Content-Type": "image/png"}, files[name]

    @server.route("POST", "/interrupt")
    def interrupt(request):
        state["interrupted"] = request.json()
        return 200, {}, ""

    @server.route("POST", "/queue")
    def queue_route(request):
        state["deleted"] = request.json()
        return 200, {}, ""

    def websocket(handler, recorded):
        """Upgrade /ws?clientId=... and send ComfyUI's events for that client's prompts."""
        client_id = recorded.query.get("clientId", [""])[0]
        accept = base64.b64encode(hashlib.sha1((recorded.headers["sec-websocket-key"] + WS_GUID).encode()).digest())
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept.decode())
        handler.end_headers()
        handler.wfile.flush()
        sock = handler.connection
        mine = clients.setdefault(client_id, queue.Queue())

        def send(event):
            sock.sendall(ws_frame(json.dumps(event)))

        send({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}})
        while True:
            if select.select([sock], [], [], 0)[0]:
                return  # the client closed (or sent a close frame): this connection is done
            try:
                prompt_id, steps = mine.get(timeout=0.1)
            except queue.Empty:
                continue
            send({"type": "execution_start", "data": {"prompt_id": prompt_id}})
            send({"type": "progress", "data": {"value": 0, "max": steps, "prompt_id": "someone-elses", "node": "3"}})
            if state.get("fail"):
                send({"type": "execution_error", "data": {"prompt_id": prompt_id, "exception_message": state["fail"]}})
                continue
            sock.sendall(b"\x82\x04\x00\x00\x00\x01")  # a binary preview frame, which clients skip
            for value in range(1, steps + 1, max(1, steps // 4)):
                time.sleep(state.get("step_delay", 0))
                send({"type": "progress", "data": {"value": value, "max": steps, "prompt_id": prompt_id, "node": "3"}})
            send({"type": "executing", "data": {"node": None, "prompt_id": prompt_id}})

    server.websocket_routes = {"/ws": websocket}
    server.state = state
    server.history = history
    return state
