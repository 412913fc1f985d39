"""Small factory functions for tests: each makes one valid object and takes overrides."""

import itertools
from importlib import import_module

from characters.models import Character, CharacterRelationship, StoryCharacter
from core.models import Upload, User
from stories.models import Chapter, Story, WorldEntry

_seq = itertools.count(1)
PASSWORD = "a-long-test-password-42"


def make_user(email=None, password=PASSWORD, **extra) -> User:
    return User.objects.create_user(email=email or f"writer{next(_seq)}@example.com", password=password, **extra)


def make_story(owner, **fields) -> Story:
    fields.setdefault("title", f"Story {next(_seq)}")
    fields.setdefault("genre", "Fantasy")
    fields.setdefault("premise", "A lighthouse keeper finds a map in a bottle.")
    return Story.objects.create(owner=owner, **fields)


def make_chapter(story, **fields) -> Chapter:
    fields.setdefault("title", f"Chapter {next(_seq)}")
    fields.setdefault("order", story.next_chapter_order())
    return Chapter.objects.create(story=story, **fields)


def make_character(owner, **fields) -> Character:
    fields.setdefault("name", f"Character {next(_seq)}")
    return Character.objects.create(owner=owner, **fields)


def cast(story, character, role=StoryCharacter.Role.SUPPORTING, importance=5) -> StoryCharacter:
    return StoryCharacter.objects.create(story=story, character=character, role=role, importance=importance)


def relate(source, target, kind=CharacterRelationship.Kind.FRIEND, strength=5, **fields) -> CharacterRelationship:
    return CharacterRelationship.objects.create(source=source, target=target, kind=kind, strength=strength, **fields)


def make_world_entry(story, **fields) -> WorldEntry:
    fields.setdefault("kind", WorldEntry.Kind.LOCATION)
    fields.setdefault("name", f"Place {next(_seq)}")
    return WorldEntry.objects.create(story=story, **fields)


def read_uploads() -> list[Upload]:
    """Run the job of every upload still waiting, in this process as a worker would (the sandboxed reader
    included), in the order they were sent; the uploads as they end."""
    done = []
    for upload in Upload.objects.filter(status=Upload.Status.WAITING).order_by("created_at"):
        module, name = upload.job.rsplit(".", 1)
        getattr(import_module(module), name)(upload.pk)
        done.append(Upload.objects.get(pk=upload.pk))
    return done


def send_file(client, url: str, fields: dict):
    """Post a form with a file as the browser does, let the worker's job read it, and return what the upload's
    page then answers: a redirect to what it made, or the page with the reason it could not be read (or the
    refusal, when the form itself was refused)."""
    response = client.post(url, fields)
    if response.status_code != 302 or not response["Location"].startswith("/uploads/"):
        return response
    read_uploads()
    return client.get(response["Location"])
