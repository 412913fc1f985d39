"""A story's full backup, and its restore on any server.

The archive is a zip of `backup.json` and `images/`: the story and its settings; every chapter with every
revision (text, source, note, time); the cast (whole profiles, portrait seeds, roles), their relationships and
history; the world with its lorebook keys; the story bible (each chapter's continuity notes, the fact ledger with
the writer's corrections, ignored findings); and every picture with its original file. Database ids never appear
(objects refer to each other by their place in the document), so a restored story backs up to the same document.
Memory, generation history and thumbnails are rebuilt, not stored. Restore checks the archive's sizes before
reading it and creates everything in one transaction: a bad archive changes nothing.
"""

import json
import zipfile
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.models import Fact, IgnoredFinding
from agents.tasks import sync_story_memory
from characters.models import Character, CharacterRelationship, StoryCharacter
from pictures.images import PictureRejected
from pictures.models import Picture
from stories.models import Chapter, ChapterRevision, Story, WorldEntry, count_words, validate_generation_settings
from storyassistant import archives
from storyassistant.queues import enqueue_after_commit

FORMAT = "storyassistant-story-backup"
ACCOUNT_FORMAT = "storyassistant-account-backup"
VERSION = 1
MAX_ENTRIES = 20_000


class BackupError(ValueError):
    """Not a backup this app can restore; the message says why. Nothing was changed."""


def stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


CHARACTER_FIELDS = ["name", "appearance", "personality", "backstory", "speech_pattern", "goals", "attributes",
                    "portrait_seed"]  # fmt: skip
FACT_FIELDS = ["subject", "subject_kind", "attribute", "aspect", "value", "is_change", "quote", "offset", "origin",
               "status", "model"]  # fmt: skip
PICTURE_FIELDS = ["kind", "status", "source", "caption", "prompt", "negative_prompt", "seed", "service",
                  "content_type", "width", "height"]  # fmt: skip


def document(story) -> tuple[dict, list[tuple[str, object]]]:
    """The story as a document, and the picture files to put beside it as (name in the archive, file field)."""
    chapters = list(story.chapters.order_by("order"))
    chapter_index = {c.pk: i for i, c in enumerate(chapters)}
    cast = list(story.cast.select_related("character").order_by("pk"))
    people = {m.character_id: i for i, m in enumerate(cast)}
    relationships = CharacterRelationship.objects.filter(source_id__in=people, target_id__in=people).order_by("pk")
    pictures = Picture.objects.filter(owner=story.owner).filter(story=story) | Picture.objects.filter(
        character_id__in=people, kind=Picture.Kind.PORTRAIT
    )
    files, picture_docs = [], []
    for index, picture in enumerate(pictures.distinct().order_by("created_at", "pk")):
        name = f"images/{index}.{picture.image.name.rsplit('.', 1)[-1]}"
        files.append((name, picture.image))
        picture_docs.append({
            **{f: getattr(picture, f) for f in PICTURE_FIELDS}, "file": name,
            "chapter": chapter_index.get(picture.chapter_id), "character": people.get(picture.character_id),
            "created_at": stamp(picture.created_at), "accepted_at": stamp(picture.accepted_at),
        })  # fmt: skip
    doc = {
        "format": FORMAT, "version": VERSION,
        "story": {"title": story.title, "genre": story.genre, "premise": story.premise, "metadata": story.metadata,
                  "generation_settings": story.generation_settings, "created_at": stamp(story.created_at)},
        "chapters": [{
            "title": c.title, "content": c.content, "status": c.status, "metadata": c.metadata,
            "continuation_context": c.continuation_context, "version": c.version,
            "revisions": [
                {"title": r.title, "content": r.content, "word_count": r.word_count, "version": r.version,
                 "source": r.source, "note": r.note, "created_at": stamp(r.created_at)}
                for r in c.revisions.order_by("created_at", "pk")
            ],
        } for c in chapters],
        "cast": [{**{f: getattr(m.character, f) for f in CHARACTER_FIELDS}, "role": m.role,
                  "importance": m.importance} for m in cast],
        "relationships": [{"source": people[r.source_id], "target": people[r.target_id], "kind": r.kind,
                           "strength": r.strength, "description": r.description, "metadata": r.metadata}
                          for r in relationships],
        "world": [{"kind": e.kind, "name": e.name, "description": e.description, "time_period": e.time_period,
                   "metadata": e.metadata} for e in story.world_entries.order_by("pk")],
        "facts": [{**{f: getattr(fact, f) for f in FACT_FIELDS}, "chapter": chapter_index[fact.chapter_id]}
                  for fact in Fact.objects.filter(story=story).order_by("pk")],
        "ignored_findings": [{"fingerprint": i.fingerprint, "kind": i.kind, "message": i.message}
                             for i in IgnoredFinding.objects.filter(story=story).order_by("pk")],
        "pictures": picture_docs,
    }  # fmt: skip
    return doc, files


def write(story, out) -> None:
    doc, files = document(story)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("backup.json", json.dumps(doc, ensure_ascii=False, indent=1))
        for name, field in files:
            archives.copy_file(field, archive, name)


def write_account(user, out) -> None:
    """Every story of the account (each a story backup inside this one) and the library's characters that are in
    no story, with their portraits."""
    stories = Story.objects.owned_by(user).order_by("pk")
    loose = list(Character.objects.for_user(user).filter(appearances__isnull=True).order_by("pk"))
    names, characters = [], []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, story in enumerate(stories):
            names.append(f"stories/{index}.backup.zip")
            with archive.open(names[-1], "w") as inner:
                write(story, inner)
        portraits = Picture.objects.current_portraits(loose)
        for index, character in enumerate(loose):
            portrait = portraits.get(character.pk)
            doc = {f: getattr(character, f) for f in CHARACTER_FIELDS}
            if portrait:
                doc["portrait"] = f"characters/{index}.{portrait.image.name.rsplit('.', 1)[-1]}"
                archives.copy_file(portrait.image, archive, doc["portrait"])
            characters.append(doc)
        account = {"format": ACCOUNT_FORMAT, "version": VERSION, "stories": names, "characters": characters}
        archive.writestr("account.json", json.dumps(account, ensure_ascii=False, indent=1))


def open_archive(data: bytes) -> zipfile.ZipFile:
    try:
        return archives.open_zip(data, max_entries=MAX_ENTRIES, max_unzipped=settings.BACKUP_MAX_UNZIPPED)
    except archives.Damaged as exc:
        raise BackupError("The file is not a backup: it is not a zip archive.") from exc
    except archives.TooLarge as exc:
        raise BackupError("The archive expands to more than a backup could; it was refused.") from exc


def restore_any(user, data: bytes) -> list[Story]:
    """A story backup, or an account backup (all its stories and loose characters, all or nothing)."""
    archive = open_archive(data)
    if "account.json" not in archive.namelist():
        return [restore(user, data)]
    try:
        account = json.loads(archive.read("account.json"))
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise BackupError("The backup is damaged: its account.json could not be read.") from exc
    if not isinstance(account, dict) or account.get("format") != ACCOUNT_FORMAT or account.get("version") != VERSION:
        raise BackupError("The archive is not a Story Assistant account backup this server reads.")
    with transaction.atomic():
        stories = [restore(user, archive.read(name)) for name in account.get("stories", [])]
        try:
            for doc in account.get("characters", []):
                character = Character.objects.create(owner=user, **{f: doc[f] for f in CHARACTER_FIELDS if f in doc})
                if doc.get("portrait"):
                    Picture.store(archive.read(doc["portrait"]), owner=user, kind=Picture.Kind.PORTRAIT,
                                  character=character, status=Picture.Status.ACCEPTED,
                                  source=Picture.Source.UPLOADED, caption=character.name)  # fmt: skip
        except (KeyError, TypeError, ValueError, PictureRejected) as exc:
            raise BackupError(f"A character in the backup could not be restored ({exc}).") from exc
    return stories


def read(data: bytes) -> tuple[dict, zipfile.ZipFile]:
    archive = open_archive(data)
    try:
        doc = json.loads(archive.read("backup.json"))
    except KeyError as exc:
        raise BackupError("The archive has no backup.json: it is not a Story Assistant backup.") from exc
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise BackupError("The backup is damaged: its backup.json could not be read.") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupError("The archive is not a Story Assistant story backup.")
    if doc.get("version") != VERSION:
        raise BackupError(f"This backup's format (version {doc.get('version')}) is not one this server reads.")
    return doc, archive


def when(value) -> datetime:
    return datetime.fromisoformat(value) if value else timezone.now()


def restore(user, data: bytes) -> Story:
    """A new story for `user` from a backup archive, exactly as it was backed up."""
    doc, archive = read(data)
    try:
        with transaction.atomic():
            story = restore_document(user, doc, archive)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise BackupError(f"The backup is damaged or incomplete ({exc.__class__.__name__}: {exc}).") from exc
    enqueue_after_commit(sync_story_memory, story.pk)  # memory is rebuilt, not restored
    return story


def restore_document(user, doc: dict, archive: zipfile.ZipFile) -> Story:
    meta = doc["story"]
    story = Story.objects.create(
        owner=user, title=meta["title"][:200], genre=meta.get("genre", "")[:100], premise=meta.get("premise", ""),
        metadata=meta.get("metadata") or {},
        generation_settings=validate_generation_settings(meta.get("generation_settings") or {}),
    )  # fmt: skip
    Story.objects.filter(pk=story.pk).update(created_at=when(meta.get("created_at")))
    chapters = []
    for order, c in enumerate(doc["chapters"], start=1):
        chapter = Chapter(story=story, order=order, title=c["title"][:200], status=c.get("status", "draft"),
                          metadata=c.get("metadata") or {}, continuation_context=c.get("continuation_context") or {},
                          version=c.get("version", 1))  # fmt: skip
        chapter.content = c["content"]
        chapters.append(chapter)
    # Saved without their usual "new revision": the backup's own revisions follow, with their times.
    for chapter in chapters:
        chapter.word_count = count_words(chapter.content)
    Chapter.objects.bulk_create(chapters)
    for chapter, c in zip(chapters, doc["chapters"], strict=True):
        for r in c["revisions"]:
            revision = ChapterRevision.objects.create(
                chapter=chapter, title=r["title"][:200], content=r["content"], word_count=r["word_count"],
                version=r["version"], source=r["source"], note=r["note"][:300],
            )  # fmt: skip
            ChapterRevision.objects.filter(pk=revision.pk).update(created_at=when(r["created_at"]))
    people = []
    for person in doc["cast"]:
        fields = {f: person[f] for f in CHARACTER_FIELDS if f in person}
        character = Character.objects.create(owner=user, **fields)
        StoryCharacter.objects.create(story=story, character=character, role=person["role"],
                                      importance=person["importance"])  # fmt: skip
        people.append(character)
    for r in doc["relationships"]:
        CharacterRelationship.objects.create(
            source=people[r["source"]], target=people[r["target"]], kind=r["kind"], strength=r["strength"],
            description=r["description"], metadata=r.get("metadata") or {},
        )  # fmt: skip
    for e in doc["world"]:
        WorldEntry.objects.create(story=story, **{k: e[k] for k in ("kind", "name", "description", "time_period")},
                                  metadata=e.get("metadata") or {})  # fmt: skip
    for f in doc["facts"]:
        Fact.objects.create(story=story, chapter=chapters[f["chapter"]], **{k: f[k] for k in FACT_FIELDS})
    for i in doc["ignored_findings"]:
        IgnoredFinding.objects.create(story=story, fingerprint=i["fingerprint"], kind=i["kind"], message=i["message"])
    for p in doc["pictures"]:
        try:
            picture = Picture.store(
                archive.read(p["file"]), owner=user, story=story if p["kind"] == Picture.Kind.SCENE else None,
                chapter=chapters[p["chapter"]] if p.get("chapter") is not None else None,
                character=people[p["character"]] if p.get("character") is not None else None,
                **{k: p[k] for k in PICTURE_FIELDS if k not in ("content_type", "width", "height")},
            )  # fmt: skip
        except PictureRejected as exc:
            raise BackupError(f"A picture in the backup is not a usable image: {exc}") from exc
        Picture.objects.filter(pk=picture.pk).update(
            created_at=when(p["created_at"]), accepted_at=when(p["accepted_at"]) if p.get("accepted_at") else None
        )
    return story
