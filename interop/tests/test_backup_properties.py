"""Every backup the app writes restores to the same backup: stories built by random sequences of what writers do
(chapters written and rewritten, people joining and leaving the cast with their portraits, relationships, world
entries, facts, ignored findings, illustrations) go through backup → restore (the sandboxed reader and the worker's
checks) → backup, and come back identical, text and pictures alike."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.models import Fact, IgnoredFinding
from characters.models import CharacterRelationship, StoryCharacter
from interop import backup
from pictures.models import Picture
from stories.models import WorldEntry
from tests.factories import cast, make_character, make_story, make_user
from tests.image_servers import png

pytestmark = pytest.mark.django_db(transaction=True)

# Text a writer can type: any character PostgreSQL stores (no NUL, no lone surrogates).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=300)
ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["chapter", "rewrite", "join", "leave", "relate", "world", "fact", "ignore", "portrait",
                         "scene"]),
        TEXT,
        st.integers(min_value=0, max_value=1000),
    ),
    max_size=14,
)  # fmt: skip


def act(story, kind: str, text: str, number: int):
    chapters = list(story.chapters.order_by("order"))
    members = [m.character for m in story.cast.select_related("character").order_by("pk")]
    if kind == "chapter" or (kind in ("rewrite", "fact", "scene") and not chapters):
        story.append_chapter(text[:200] or None, text)
    elif kind == "rewrite":
        chapter = chapters[number % len(chapters)]
        chapter.save_content(chapter.content + text, base_version=chapter.version, note=text[:300])
    elif kind == "join" or (kind in ("leave", "relate", "portrait") and not members):
        role = StoryCharacter.Role.values[number % len(StoryCharacter.Role.values)]
        cast(story, make_character(story.owner, name=text[:200] or "Someone", backstory=text), role=role,
             importance=number % 10 + 1)  # fmt: skip
    elif kind == "leave":  # the portrait they had stays in the library with them
        StoryCharacter.objects.filter(story=story, character=members[number % len(members)]).delete()
    elif kind == "relate" and len(members) >= 2:
        kinds = CharacterRelationship.Kind.values
        CharacterRelationship.objects.get_or_create(
            source=members[0], target=members[number % (len(members) - 1) + 1], kind=kinds[number % len(kinds)],
            defaults={"strength": number % 10 + 1, "description": text},
        )  # fmt: skip
    elif kind == "world":
        kinds = WorldEntry.Kind.values
        WorldEntry.objects.create(story=story, kind=kinds[number % len(kinds)], name=text[:200] or "Place",
                                  description=text, metadata={"keys": [text[:20]]})  # fmt: skip
    elif kind == "fact":
        Fact.objects.get_or_create(
            story=story, chapter=chapters[number % len(chapters)], subject=text[:200] or "Mara", attribute="appearance",
            aspect="eyes", value=str(number), defaults={"quote": text[:1000], "origin": "writer", "status": "pinned"},
        )  # fmt: skip
    elif kind == "ignore":
        IgnoredFinding.objects.get_or_create(story=story, fingerprint=f"{number:032d}",
                                             defaults={"kind": "grammar", "message": text})  # fmt: skip
    elif kind == "portrait":
        # Drawn from the story's cast page, a portrait also names the story.
        Picture.store(png(8 + number % 20, 8, colour=(number % 256, 3, 4)), owner=story.owner, kind="portrait",
                      character=members[number % len(members)], story=story if number % 2 else None,
                      status="accepted", source="uploaded", caption=text[:300])  # fmt: skip
    elif kind == "scene":
        chapter = chapters[number % len(chapters)]
        Picture.store(png(8, 8 + number % 20), owner=story.owner, kind="scene", story=story, chapter=chapter,
                      status="proposed", prompt=text, seed=number)  # fmt: skip


def archive_of(story) -> dict:
    out = io.BytesIO()
    backup.write(story, out)
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    entries = {name: archive.read(name) for name in archive.namelist()}
    entries["backup.json"] = json.loads(entries["backup.json"])
    return entries


@settings(max_examples=12, deadline=timedelta(seconds=30), suppress_health_check=list(HealthCheck),
          report_multiple_bugs=False)  # fmt: skip
@given(actions=ACTIONS, title=TEXT)
def test_backup_restore_backup_is_the_same_for_any_story_writers_can_make(actions, title, tmp_path_factory):
    writer, other = make_user(), make_user()
    story = make_story(writer, title=title[:200] or "Untitled", premise=title)
    for kind, text, number in actions:
        act(story, kind, text, number)
    before = archive_of(story)
    path = tmp_path_factory.mktemp("backup") / "story.backup.zip"
    out = io.BytesIO()
    backup.write(story, out)
    path.write_bytes(out.getvalue())

    (restored,), notes = backup.restore_file(other, path)
    assert notes == [] and archive_of(restored) == before
