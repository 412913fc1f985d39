"""A sample story for the demo account, so a first look at the app shows every page filled: chapters with their
continuity notes (the story bible), a cast with profiles and relationships, and a world with lorebook keys. The
story is written for the project (demo_story.json)."""

import json
from pathlib import Path

from django.db import transaction

from agents.memory.continuity import Continuity
from characters.models import Character, CharacterRelationship, StoryCharacter
from stories.models import ChapterRevision, Story, WorldEntry

DATA = Path(__file__).with_name("demo_story.json")


def create_demo_story(user) -> Story:
    data = json.loads(DATA.read_text())
    with transaction.atomic():
        story = Story.objects.create(
            owner=user, title=data["title"], genre=data["genre"], premise=data["premise"],
            generation_settings=data["generation_settings"],
        )  # fmt: skip
        people = {}
        for person in data["characters"]:
            role, importance = person.pop("role"), person.pop("importance")
            people[person["name"]] = Character.objects.create(owner=user, **person)
            StoryCharacter.objects.create(story=story, character=people[person["name"]], role=role,
                                          importance=importance)  # fmt: skip
        for link in data["relationships"]:
            CharacterRelationship.objects.create(
                source=people[link["source"]], target=people[link["target"]], kind=link["kind"],
                strength=link["strength"], description=link["description"],
            )  # fmt: skip
        for entry in data["world"]:
            WorldEntry.objects.create(story=story, **entry)
        for order, (chapter, notes) in enumerate(zip(data["chapters"], data["notes"], strict=True), start=1):
            created = story.chapters.model(story=story, order=order, title=chapter["title"])
            created.content = chapter["content"]
            created.continuation_context = Continuity.model_validate(notes).model_dump()
            created.revision_author, created.revision_source = user, ChapterRevision.Source.IMPORT
            created.revision_note = "The sample story"
            created.save()
    return story
