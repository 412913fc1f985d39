"""A story's full backup, and its restore on any server.

The archive is a zip of `backup.json`, `chapters/<n>.jsonl` and `images/`: backup.json holds the story and its
settings, each chapter's title and settings, the cast (whole profiles, portrait seeds, roles), their relationships,
the world with its lorebook keys, the story bible (the fact ledger with the writer's corrections, ignored findings),
every picture's details, the comments and suggestions on its chapters and the people it was shared with; each
chapter's file holds its text, then every revision (text, source, note, time), one JSON line each, so a long
history is read a line at a time. Database ids never appear (objects refer to each other by their place in the
document), so a restored story backs up to the same archive. Memory, generation history and thumbnails are
rebuilt, not stored.

Restoring reads the archive in the sandbox (interop/backup_reader.py: every size and reference bounded and
checked), cleans its pictures in sandboxed batches, checks every value against the models, then creates
everything in one transaction: a bad archive changes nothing, and picture files written for a restore that fails
are removed.
"""

import json
import shutil
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image

from agents.discovery import tropes
from agents.models import Fact, IgnoredFinding, StoryPattern
from agents.tasks import sync_story_memory
from characters.models import Character, CharacterRelationship, StoryCharacter
from core import sandbox, uploads
from core.queues import enqueue_after_commit
from pictures.images import CleanImage
from pictures.models import Picture
from stories.models import (
    Chapter,
    ChapterRevision,
    Comment,
    Story,
    Suggestion,
    WorldEntry,
    validate_generation_settings,
)
from stories.sharing import role_label

from . import archives
from .backup_reader import ACCOUNT_FORMAT, FORMAT, VERSION, BackupError

# Pictures are cleaned in sandboxed batches of at most this many pixels (each batch within the CPU limit).
BATCH_PIXELS = 16_000_000
BATCH_PICTURES = 40


def stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


CHARACTER_FIELDS = ["name", "appearance", "personality", "backstory", "speech_pattern", "goals", "attributes",
                    "portrait_seed"]  # fmt: skip
FACT_FIELDS = ["subject", "subject_kind", "attribute", "aspect", "value", "is_change", "quote", "offset", "origin",
               "status", "model"]  # fmt: skip
PICTURE_FIELDS = ["kind", "status", "source", "caption", "prompt", "negative_prompt", "seed", "service"]
REVISION_FIELDS = ["title", "content", "word_count", "version", "source", "note"]
ANCHOR_FIELDS = ["quote", "prefix", "suffix", "start"]


# --- writing -------------------------------------------------------------------------------------------------------


def backed_up_pictures(story, people: dict):
    """The story's illustrations and its cast's portraits (a portrait of someone no longer in the cast goes with
    that character, not with this story)."""
    scenes = Picture.objects.filter(owner=story.owner, story=story, kind=Picture.Kind.SCENE)
    portraits = Picture.objects.filter(owner=story.owner, character_id__in=people, kind=Picture.Kind.PORTRAIT)
    return (scenes | portraits).distinct().order_by("created_at", "pk")


def write(story, out) -> None:
    """The story's archive into the binary file `out`, a chapter's history at a time."""
    chapters = list(story.chapters.order_by("order").defer("content"))
    chapter_index = {c.pk: i for i, c in enumerate(chapters)}
    cast = list(story.cast.select_related("character").order_by("pk"))
    people = {m.character_id: i for i, m in enumerate(cast)}
    relationships = CharacterRelationship.objects.filter(source_id__in=people, target_id__in=people).order_by("pk")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        picture_docs = []
        for index, picture in enumerate(backed_up_pictures(story, people)):
            name = f"images/{index}.{picture.image.name.rsplit('.', 1)[-1]}"
            archives.copy_file(picture.image, archive, name)
            picture_docs.append({
                **{f: getattr(picture, f) for f in PICTURE_FIELDS}, "file": name,
                "chapter": chapter_index.get(picture.chapter_id), "character": people.get(picture.character_id),
                "created_at": stamp(picture.created_at), "accepted_at": stamp(picture.accepted_at),
            })  # fmt: skip
        for index, chapter in enumerate(chapters):
            with archive.open(f"chapters/{index}.jsonl", "w") as lines:
                content = Chapter.objects.values_list("content", flat=True).get(pk=chapter.pk)
                lines.write(json_line({"content": content}))
                for revision in chapter.revisions.order_by("created_at", "pk").iterator(chunk_size=50):
                    doc = {f: getattr(revision, f) for f in REVISION_FIELDS}
                    lines.write(json_line({**doc, "created_at": stamp(revision.created_at)}))
        doc = {
            "format": FORMAT, "version": VERSION,
            "story": {"title": story.title, "genre": story.genre, "premise": story.premise, "metadata": story.metadata,
                      "generation_settings": story.generation_settings, "created_at": stamp(story.created_at)},
            "chapters": [{"title": c.title, "status": c.status, "metadata": c.metadata,
                          "continuation_context": c.continuation_context, "version": c.version,
                          "file": f"chapters/{i}.jsonl"} for i, c in enumerate(chapters)],
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
            "patterns": [{"key": p.key, "likelihood": p.score, "similarity": p.similarity, "cues": p.cues,
                          "chapter": chapter_index.get(p.chapter_id), "start": p.start_offset, "excerpt": p.excerpt,
                          "verdict": p.verdict, "quote": p.quote, "dismissed": p.dismissed}
                         for p in StoryPattern.objects.filter(story=story).order_by("pk")],
            "pictures": picture_docs,
            **review_docs(story, chapter_index),
        }  # fmt: skip
        archive.writestr("backup.json", json.dumps(doc, ensure_ascii=False, indent=1))


def review_docs(story, chapter_index: dict) -> dict:
    """The people the story is shared with, and the comments (with replies) and suggestions on its chapters; who
    wrote each is kept as a name (the people of one server are not another's)."""
    people = story.memberships.select_related("user").order_by("created_at", "pk")
    comments = Comment.objects.filter(chapter__story=story, parent__isnull=True).select_related("author")
    replies = Comment.objects.filter(chapter__story=story, parent__isnull=False).select_related("author")
    by_thread: dict = {}
    for reply in replies.order_by("created_at", "pk"):
        by_thread.setdefault(reply.parent_id, []).append(
            {"body": reply.body, "by": reply.by, "created_at": stamp(reply.created_at)}
        )
    suggestions = Suggestion.objects.filter(chapter__story=story).select_related("author")
    return {
        "people": [{"email": m.user.email, "name": m.user.display_name, "role": m.role} for m in people],
        "comments": [{**{f: getattr(c, f) for f in ANCHOR_FIELDS}, "chapter": chapter_index[c.chapter_id],
                      "body": c.body, "by": c.by, "created_at": stamp(c.created_at),
                      "resolved_at": stamp(c.resolved_at), "replies": by_thread.get(c.pk, [])}
                     for c in comments.order_by("created_at", "pk")],
        "suggestions": [{**{f: getattr(s, f) for f in ANCHOR_FIELDS}, "chapter": chapter_index[s.chapter_id],
                         "replacement": s.replacement, "note": s.note, "status": s.status, "by": s.by,
                         "created_at": stamp(s.created_at), "decided_at": stamp(s.decided_at)}
                        for s in suggestions.order_by("created_at", "pk")],
    }  # fmt: skip


def json_line(value: dict) -> bytes:
    return (json.dumps(value, ensure_ascii=False) + "\n").encode()


def write_account(user, out) -> None:
    """Every story of the account (each a story backup inside this one) and the library's characters that are in
    no story, with their portraits. A story moderators hid is not in it: a restore would bring it back unhidden."""
    stories = Story.objects.for_user(user).order_by("pk")
    loose = list(Character.objects.for_user(user).filter(appearances__isnull=True).order_by("pk"))
    names, characters = [], []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, story in enumerate(stories):
            names.append(f"stories/{index}.backup.zip")
            with archive.open(names[-1], "w", force_zip64=True) as inner:
                write(story, inner)
        portraits = Picture.objects.current_portraits(loose)
        for index, character in enumerate(loose):
            portrait = portraits.get(character.pk)
            doc = {f: getattr(character, f) for f in CHARACTER_FIELDS}
            if portrait:
                doc["portrait"] = f"characters/{index}.{portrait.image.name.rsplit('.', 1)[-1]}"
                archives.copy_file(portrait.image, archive, doc["portrait"])
            characters.append(doc)
        account = {"format": ACCOUNT_FORMAT, "version": 1, "stories": names, "characters": characters}
        archive.writestr("account.json", json.dumps(account, ensure_ascii=False, indent=1))


# --- restoring -----------------------------------------------------------------------------------------------------


def restore_upload(upload) -> tuple[str, str]:
    """An uploaded backup (a story's or a whole account's) restored for its owner: the message and where to go."""
    with uploads.local_copy(upload) as path:
        stories, notes = restore_file(upload.owner, path)
    if len(stories) == 1:
        message = f"Restored “{stories[0].title}” with its chapters, history, cast, world and pictures."
        url = stories[0].get_absolute_url()
    else:
        message, url = f"Restored {len(stories)} stories and your library.", "/"
    return " ".join([message, *notes]), url


def restore_file(user, path: Path) -> tuple[list[Story], list[str]]:
    """Everything in the backup at `path`, for `user`, all or nothing; and notes for the writer about what could
    not come back as it was."""
    limits = {"max_unzipped": settings.BACKUP_MAX_UNZIPPED, "max_json_bytes": settings.BACKUP_JSON_MAX_BYTES,
              "max_picture_bytes": settings.PICTURE_MAX_BYTES, "max_pixels": settings.PICTURE_MAX_PIXELS,
              "max_megapixels": settings.BACKUP_MAX_MEGAPIXELS, "max_stories": settings.BACKUP_MAX_STORIES}  # fmt: skip
    with (
        sandbox.run("interop.backup_reader:read_upload", path, uploads.limits(), **limits) as read,
        tempfile.TemporaryDirectory(prefix="storyassistant-restore-") as held,
    ):
        cleaned = clean_pictures(read, Path(held))
        restoring = Restoring(user, read, cleaned)
        try:
            with transaction.atomic():
                stories = [restoring.story(story) for story in read.value["stories"]]
                for character in read.value["characters"]:
                    restoring.loose_character(character)
        except (ValidationError, ValueError, KeyError, TypeError) as exc:
            restoring.remove_files()
            raise BackupError(f"The backup is damaged or incomplete: {_message(exc)}") from exc
        except IntegrityError as exc:
            restoring.remove_files()
            rule = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or "a rule of the data"
            raise BackupError(f"The backup is damaged: it breaks {rule}.") from exc
        except BaseException:
            restoring.remove_files()
            raise
    for story in stories:
        enqueue_after_commit(sync_story_memory, story.pk)  # memory is rebuilt, not restored
    return stories, restoring.notes()


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())[:500]
    return f"{exc.__class__.__name__}: {str(exc)[:300]}"


def clean_pictures(read: sandbox.Result, held: Path) -> dict[str, CleanImage]:
    """Every picture the reader found (raw, by its file name), cleaned in sandboxed batches of bounded size, as
    cleaned images whose files wait in `held` until the restore is done."""
    raws = [p["raw"] for s in read.value["stories"] for p in _skeleton(read, s)["pictures"] if p["raw"]]
    raws += [c["raw"] for c in read.value["characters"] if c["raw"]]
    cleaned, batch, pixels = {}, [], 0
    for raw in raws + [None]:
        size = _pixels(read.file(raw)) if raw else 0
        if batch and (raw is None or pixels + size > BATCH_PIXELS or len(batch) >= BATCH_PICTURES):
            cleaned.update(_clean_batch(read, batch, held))
            batch, pixels = [], 0
        if raw:
            batch.append(raw)
            pixels += size
    return cleaned


def _pixels(path: Path) -> int:
    """From the header only: the reader already checked it in the sandbox."""
    with Image.open(path) as image:
        return image.width * image.height


def _clean_batch(read: sandbox.Result, batch: list[str], held: Path) -> dict[str, CleanImage]:
    options = {"files": [str(read.file(raw)) for raw in batch], "max_bytes": settings.PICTURE_MAX_BYTES,
               "max_pixels": settings.PICTURE_MAX_PIXELS}  # fmt: skip
    try:
        with sandbox.run("pictures.images:clean_files", Path("/dev/null"), uploads.limits(), **options) as out:
            result = {}
            for raw, described in zip(batch, out.value, strict=True):
                for key in ("file", "thumbnail_file"):
                    target = held / f"{Path(raw).stem}-{described[key]}"
                    shutil.move(out.file(described[key]), target)
                    described[key] = str(target)
                result[raw] = described
            return result
    except sandbox.Unreadable as exc:
        raise BackupError(f"A picture in the backup is not a usable image: {exc}") from exc


def _skeleton(read: sandbox.Result, story: dict) -> dict:
    if "_skeleton" not in story:
        story["_skeleton"] = json.loads(read.file(story["skeleton"]).read_text(encoding="utf-8"))
    return story["_skeleton"]


def when(value) -> datetime:
    return datetime.fromisoformat(value) if value else timezone.now()


def checked(instance, exclude=()):
    """The instance, once its values fit the model (lengths, choices), before it is saved. An empty text is let
    through: the app itself stores some where a form would ask for one (a finding's message, say)."""
    empty = [f.name for f in instance._meta.concrete_fields if getattr(instance, f.attname, None) == ""]
    instance.clean_fields(exclude=[*exclude, *empty])
    return instance


class Restoring:
    """One restore: the objects it makes, the picture files it writes (removed if the restore fails), and what
    it could not bring back."""

    def __init__(self, user, read: sandbox.Result, cleaned: dict):
        self.user, self.read, self.cleaned = user, read, cleaned
        self.pictures: list[Picture] = []
        self.left_out = 0
        self.shared: list[tuple[str, list[dict]]] = []  # stories that were shared, and with whom

    def notes(self) -> list[str]:
        notes = []
        if self.left_out:
            many = self.left_out != 1
            notes.append(f"{self.left_out} portrait{'s' if many else ''} of someone no longer in the cast could not "
                         f"be placed and {'were' if many else 'was'} left out.")  # fmt: skip
        for title, people in self.shared:
            listed = ", ".join(f"{p['name'] or p['email']} ({role_label(p['role']).lower()})" for p in people[:10])
            more = f" and {len(people) - 10} more" if len(people) > 10 else ""
            notes.append(f"“{title}” was shared with {listed}{more}: invite them again from its People page to "
                         "share this copy.")  # fmt: skip
        return notes

    def remove_files(self):
        for picture in self.pictures:
            picture.delete_files()

    def store_picture(self, raw: str, **fields) -> Picture:
        described = self.cleaned[raw]
        image = CleanImage(
            data=Path(described["file"]).read_bytes(), content_type=described["content_type"],
            extension=described["extension"], width=int(described["width"]), height=int(described["height"]),
            thumbnail=Path(described["thumbnail_file"]).read_bytes(),
        )  # fmt: skip
        size = {"content_type": image.content_type, "width": image.width, "height": image.height}
        checked(Picture(owner=self.user, **size, **fields), exclude=["owner", "story", "chapter", "character", "image",
                                                                     "thumbnail"])  # fmt: skip
        picture = Picture.store_clean(image, owner=self.user, **fields)
        self.pictures.append(picture)
        return picture

    def story(self, entry: dict) -> Story:
        doc = _skeleton(self.read, entry)
        meta = doc["story"]
        story = Story(owner=self.user, title=meta["title"], genre=meta["genre"], premise=meta["premise"],
                      metadata=meta["metadata"] or {},
                      generation_settings=validate_generation_settings(meta["generation_settings"] or {}))  # fmt: skip
        checked(story, exclude=["owner"]).save()
        story.created_at = when(meta.get("created_at"))
        Story.objects.filter(pk=story.pk).update(created_at=story.created_at)
        chapters = [self.chapter(story, order, c, entry["chapters"][order - 1])
                    for order, c in enumerate(doc["chapters"], start=1)]  # fmt: skip
        people = []
        for person in doc["cast"]:
            character = self.character(person)
            member = StoryCharacter(story=story, character=character, role=person["role"],
                                    importance=person["importance"])  # fmt: skip
            checked(member, exclude=["story", "character"]).save()
            people.append(character)
        for r in doc["relationships"]:
            relationship = CharacterRelationship(
                source=people[r["source"]], target=people[r["target"]], kind=r["kind"], strength=r["strength"],
                description=r["description"], metadata=r["metadata"] or {},
            )  # fmt: skip
            checked(relationship, exclude=["source", "target"]).save()
        for e in doc["world"]:
            checked(WorldEntry(story=story, **{k: e[k] for k in ("kind", "name", "description", "time_period")},
                               metadata=e["metadata"] or {}), exclude=["story"]).save()  # fmt: skip
        for f in doc["facts"]:
            checked(Fact(story=story, chapter=chapters[f["chapter"]], **{k: f[k] for k in FACT_FIELDS}),
                    exclude=["story", "chapter", "key"]).save()  # fmt: skip
        for i in doc["ignored_findings"]:
            checked(IgnoredFinding(story=story, fingerprint=i["fingerprint"], kind=i["kind"], message=i["message"]),
                    exclude=["story"]).save()  # fmt: skip
        known = tropes.by_key()
        for p in doc.get("patterns", []):  # a pattern this catalogue does not know is left out
            if p["key"] in known:
                checked(StoryPattern(story=story, key=p["key"], score=p["likelihood"], similarity=p["similarity"],
                                     cues=p["cues"], chapter=None if p["chapter"] is None else chapters[p["chapter"]],
                                     start_offset=p["start"], excerpt=p["excerpt"], dismissed=p["dismissed"],
                                     verdict=p["verdict"], quote=p["quote"]),
                        exclude=["story", "chapter"]).save()  # fmt: skip
        for p in doc["pictures"]:
            self.picture(story, chapters, people, p)
        self.review(doc, chapters)
        if doc.get("people"):
            self.shared.append((story.title, doc["people"]))
        return story

    def review(self, doc: dict, chapters: list[Chapter]):
        """Comments, replies and suggestions, each the restorer's with the name of whoever wrote it. Membership is
        not restored: sharing this copy is the restorer's choice (the notes name who had it)."""

        def made(model, fields: dict, created_at, **times):
            item = checked(model(author=self.user, **fields), exclude=["chapter", "author", "parent"])
            item.save()
            model.objects.filter(pk=item.pk).update(created_at=when(created_at), **times)
            return item

        for c in doc.get("comments", []):
            anchor = {f: c[f] for f in ANCHOR_FIELDS}
            chapter = chapters[c["chapter"]]
            resolved = {"resolved_at": when(c["resolved_at"])} if c["resolved_at"] else {}
            thread = made(Comment, {"chapter": chapter, **anchor, "body": c["body"], "written_by": c["by"]},
                          c["created_at"], **resolved)  # fmt: skip
            for r in c["replies"]:
                made(Comment, {"chapter": chapter, "parent": thread, **anchor, "body": r["body"],
                               "written_by": r["by"]}, r["created_at"])  # fmt: skip
        for s in doc.get("suggestions", []):
            fields = {f: s[f] for f in (*ANCHOR_FIELDS, "replacement", "note", "status")}
            decided = {"decided_at": when(s["decided_at"])} if s["decided_at"] else {}
            made(Suggestion, {"chapter": chapters[s["chapter"]], **fields, "written_by": s["by"]}, s["created_at"],
                 **decided)  # fmt: skip

    def chapter(self, story, order: int, meta: dict, lines_file: str) -> Chapter:
        with open(self.read.file(lines_file), encoding="utf-8") as lines:
            content = json.loads(lines.readline())["content"]
            chapter = Chapter(story=story, order=order, title=meta["title"], status=meta["status"],
                              metadata=meta["metadata"] or {}, continuation_context=meta["continuation_context"] or {},
                              version=meta["version"])  # fmt: skip
            chapter.content = content
            checked(chapter, exclude=["story"]).clean()
            # Saved without its usual "new revision": the backup's own revisions follow, with their times.
            Chapter.objects.bulk_create([chapter])
            for line in lines:
                r = json.loads(line)
                revision = checked(ChapterRevision(chapter=chapter, **{f: r[f] for f in REVISION_FIELDS}),
                                   exclude=["chapter", "author"])  # fmt: skip
                revision.save()
                ChapterRevision.objects.filter(pk=revision.pk).update(created_at=when(r["created_at"]))
        return chapter

    def picture(self, story, chapters, people, p: dict):
        if p["kind"] == Picture.Kind.PORTRAIT and p["character"] is None:
            self.left_out += 1  # written by an earlier version: a portrait of someone who had left the cast
            return
        fields = {k: p[k] for k in PICTURE_FIELDS}
        picture = self.store_picture(
            p["raw"], story=story if p["kind"] == Picture.Kind.SCENE else None,
            chapter=chapters[p["chapter"]] if p["chapter"] is not None else None,
            character=people[p["character"]] if p["character"] is not None else None, **fields,
        )  # fmt: skip
        Picture.objects.filter(pk=picture.pk).update(
            created_at=when(p["created_at"]), accepted_at=when(p["accepted_at"]) if p["accepted_at"] else None
        )

    def character(self, doc: dict) -> Character:
        fields = {f: doc[f] for f in CHARACTER_FIELDS if doc.get(f) is not None}
        character = checked(Character(owner=self.user, **fields), exclude=["owner"])
        character.save()
        return character

    def loose_character(self, doc: dict):
        character = self.character(doc)
        if doc["raw"]:
            self.store_picture(doc["raw"], kind=Picture.Kind.PORTRAIT, character=character,
                               status=Picture.Status.ACCEPTED, source=Picture.Source.UPLOADED,
                               caption=character.name)  # fmt: skip
