"""The API keeps the promises of its OpenAPI document. Schemathesis reads /api/openapi.json from the running app
and sends what it generates from it (valid requests and invalid ones, every documented operation and methods that
are not) to the writer's own objects; every answer is checked against the document: no server error, only
documented statuses, content types and bodies, valid data accepted, invalid data refused."""

import json
import subprocess
import sys

import pytest

from api.models import ApiToken
from generation.models import GenerationTask
from pictures.models import Picture
from tests.factories import cast, make_chapter, make_character, make_story, make_user, make_world_entry
from tests.image_servers import png

REJECTIONS = ["400", "401", "403", "404", "405", "409", "413", "415", "422", "429"]
EXAMPLES = 20  # per operation and phase: enough to reach every rule, bounded so the suite stays quick


@pytest.fixture
def worker_env():
    return {"API_REQUESTS_PER_MINUTE": "1000000"}  # the test client sends hundreds of requests a minute


def writer_objects():
    """One writer's objects, so generated requests reach them and not only 404s."""
    user = make_user("contract@example.com")
    story = make_story(user, title="Salt")
    chapter = make_chapter(story, title="One", content="The tide turned. " * 40)
    character = make_character(user, name="Mara")
    cast(story, character)
    entry = make_world_entry(story, name="The lighthouse")
    task = GenerationTask.objects.create(user=user, story=story, chapter=chapter, mode="continue", request={})
    picture = Picture.store(png(), owner=user, character=character, kind=Picture.Kind.PORTRAIT)
    _, key = ApiToken.issue(user, "contract")
    ids = {"story_id": story.pk, "chapter_id": chapter.pk, "character_id": character.pk, "entry_id": entry.pk,
           "task_id": str(task.pk), "picture_id": str(picture.pk)}  # fmt: skip
    return key, ids


def test_the_api_keeps_its_documented_contract(web_server, tmp_path):
    key, ids = writer_objects()
    config = tmp_path / "schemathesis.toml"
    parameters = {f"path.{name}": value for name, value in ids.items()}
    parameters |= {"body.chapter_id": ids["chapter_id"], "body.characters": ["Mara"]}  # the cast's own names
    config.write_text(
        "[parameters]\n"
        + "".join(f"{json.dumps(key)} = {json.dumps(value)}\n" for key, value in parameters.items())
        # A body over the size limit is refused before it is read, with 413 (documented): a rejection too.
        + "[checks.negative_data_rejection]\nexpected-statuses = "
        + json.dumps(REJECTIONS)
        + "\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run",
         f"http://{web_server}/api/openapi.json", "--header", f"Authorization: Bearer {key}",
         "--max-examples", str(EXAMPLES), "--seed", "1", "--phases", "examples,coverage,fuzzing",
         "--continue-on-failure"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    report = result.stdout[result.stdout.find("=== SUMMARY") :]
    print(report)
    assert result.returncode == 0, result.stdout[:6000] + result.stderr[-2000:]
