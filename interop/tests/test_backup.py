"""A story's full backup restores exactly: backup → restore (for another writer, as on another server, by the job
a worker runs) → backup gives the same document, chapter files and pictures."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from agents.models import Fact, IgnoredFinding, StoryPattern
from characters.models import Character
from core.models import Upload
from pictures.models import Picture
from stories.models import Comment, Role, Story, StoryMembership, Suggestion
from storyassistant.management.demo_story import create_demo_story
from tests.factories import make_character, make_story, make_user, send_file
from tests.image_servers import png
from tests.responses import streamed_body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def full_story(user):
    """The sample story, plus history, a ledger fact, an ignored finding, patterns found (one dismissed), a portrait
    and an illustration."""
    story = create_demo_story(user)
    first = story.chapters.order_by("order").first()
    first.save_content(first.content + "\n\nShe did not look down.", base_version=first.version, author=user)
    Fact.objects.create(story=story, chapter=first, subject="Mara Vell", attribute="appearance", aspect="hair",
                        value="salt-white", quote="salt-white", status="pinned", origin="writer")  # fmt: skip
    IgnoredFinding.objects.create(story=story, fingerprint="abc123", kind="grammar", message="Ignored on purpose.")
    StoryPattern.objects.create(story=story, key="the-reveal", score=0.31, similarity=0.42, cues=["revealed"],
                                chapter=first, start_offset=0, excerpt=first.content[:300])  # fmt: skip
    StoryPattern.objects.create(story=story, key="love-triangle", score=0.2, similarity=0.3, dismissed=True)
    mara = story.characters.get(name="Mara Vell")
    Picture.store(png(30, 40), owner=user, kind="portrait", character=mara, status="accepted", source="uploaded",
                  caption="Mara Vell")  # fmt: skip
    Picture.store(png(40, 30, colour=(1, 2, 3)), owner=user, kind="scene", story=story, chapter=first,
                  status="accepted", prompt="The tower at night.", seed=42, service="ComfyUI sdxl")  # fmt: skip
    return story


def restore(client, data: bytes, name="b.zip"):
    """Send the archive to the restore form and let the worker's job restore it; the upload's page then."""
    return send_file(client, reverse("backup_restore"), {"backup": SimpleUploadedFile(name, data)})


def backup_of(client, story) -> tuple[dict, dict]:
    response = client.get(reverse("story_backup", args=[story.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(streamed_body(response)))
    document = json.loads(archive.read("backup.json"))
    files = {name: archive.read(name) for name in archive.namelist() if name != "backup.json"}
    return document, files


def test_backup_restore_backup_gives_the_same_story(writer_client, full_story, other_user):
    document, files = backup_of(writer_client, full_story)
    first = files["chapters/0.jsonl"].decode().splitlines()
    assert len(document["chapters"]) == 3 and len(first) == 1 + 2  # the text, then two revisions
    assert json.loads(first[0])["content"].endswith("She did not look down.")
    assert len(document["cast"]) == 3 and len(document["pictures"]) == 2 and len(files) == 3 + 2
    assert [(p["key"], p["chapter"], p["dismissed"]) for p in document["patterns"]] == [
        ("the-reveal", 0, False), ("love-triangle", None, True)]  # fmt: skip

    # Restored by another writer, as on another server.
    other = Client()
    other.force_login(other_user)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("backup.json", json.dumps(document))
        for name, data in files.items():
            out.writestr(name, data)
    response = restore(other, archive.getvalue())
    restored = Story.objects.get(owner=other_user)
    assert response["Location"] == restored.get_absolute_url()

    again, again_files = backup_of(other, restored)
    assert again == document
    assert again_files == files
    assert Character.objects.filter(owner=other_user).count() == 3
    assert restored.chapters.first().revisions.count() == 2  # the history, not a new "restored" revision
    assert restored.patterns.get(key="love-triangle").dismissed  # the writer's dismissal holds


def test_comments_suggestions_and_the_people_a_story_was_shared_with_are_kept(writer_client, user, other_user):
    story = create_demo_story(user)
    first, second = story.chapters.order_by("order")[:2]
    StoryMembership.objects.create(story=story, user=other_user, role=Role.EDITOR)
    quote = first.content[10:40]
    anchor = {"quote": quote, "prefix": first.content[:10], "suffix": first.content[40:104], "start": 10}
    thread = Comment.objects.create(chapter=first, author=other_user, body="Is this right?", **anchor)
    Comment.objects.create(chapter=first, parent=thread, author=user, body="Yes.", **anchor)
    Comment.objects.create(chapter=second, author=user, body="Done.", resolved_at=thread.created_at, quote="x")
    open_one = Suggestion.objects.create(chapter=first, author=other_user, replacement="Better words", **anchor)
    Suggestion.objects.create(chapter=second, author=other_user, replacement="No", status="rejected",
                              decided_at=thread.created_at, quote="y")  # fmt: skip

    document, files = backup_of(writer_client, story)
    assert document["people"] == [{"email": other_user.email, "name": other_user.display_name, "role": "editor"}]
    assert [(c["chapter"], c["body"], len(c["replies"])) for c in document["comments"]] == [
        (0, "Is this right?", 1), (1, "Done.", 0)]  # fmt: skip
    name_of = {person.pk: person.display_name or person.email for person in (user, other_user)}
    assert (document["comments"][0]["by"], document["comments"][0]["replies"][0]["by"]) == (
        name_of[other_user.pk], name_of[user.pk])  # fmt: skip
    assert document["suggestions"][0]["by"] == open_one.by == name_of[other_user.pk]
    assert [(s["chapter"], s["status"]) for s in document["suggestions"]] == [(0, "open"), (1, "rejected")]

    # Restored by someone on another server: the comments are theirs, signed with the names they had.
    third = make_user("restorer@example.com")
    restorer = Client()
    restorer.force_login(third)
    page = restore(restorer, zip_of({"backup.json": json.dumps(document), **files}), "shared.zip")
    restored = Story.objects.get(owner=third)
    assert not restored.memberships.exists()  # sharing this copy is the restorer's choice
    assert page["Location"] == restored.get_absolute_url()
    note = Upload.objects.latest("created_at").message
    assert f"shared with {other_user.email} (editor): invite them again from its People page" in note
    comment = Comment.objects.get(chapter__story=restored, body="Is this right?")
    assert (comment.author, comment.by, comment.quote) == (third, document["comments"][0]["by"], quote)
    suggestion = Suggestion.objects.get(chapter__story=restored, status="open")
    assert suggestion.by == document["suggestions"][0]["by"] and suggestion.replacement == "Better words"

    again, _ = backup_of(restorer, restored)
    assert (again["comments"], again["suggestions"], again["people"]) == (
        document["comments"],
        document["suggestions"],
        [],
    )
    # The restorer decides on the suggestion as on any other.
    chapter = restored.chapters.order_by("order").first()
    chapter.accept_suggestion(suggestion, third)
    assert "Better words" in restored.chapters.order_by("order").first().content


def test_a_comment_on_a_chapter_that_is_not_there_is_refused(writer_client, user):
    story = create_demo_story(user)
    document, files = backup_of(writer_client, story)
    document["comments"] = [{"chapter": 9, "body": "Lost", "quote": "x"}]
    page = restore(writer_client, zip_of({"backup.json": json.dumps(document), **files})).content.decode()
    assert "a comment or suggestion belongs to a chapter that is not in the backup" in page
    assert Story.objects.filter(owner=user).count() == 1


def test_a_bad_backup_changes_nothing(writer_client, full_story, user):
    document, files = backup_of(writer_client, full_story)
    stories_before, characters_before = Story.objects.count(), Character.objects.count()
    broken = dict(document, relationships=[{"source": 0, "target": 99, "kind": "friend", "strength": 5,
                                            "description": ""}])  # fmt: skip
    cases = [
        (b"not a zip", "not a zip archive"),
        (zip_of({"notes.txt": "hello"}), "no backup.json"),
        (zip_of({"backup.json": json.dumps({"format": "other"})}), "not a Story Assistant story backup"),
        (zip_of({"backup.json": json.dumps({**document, "version": 99})}), "version 99"),
        (zip_of({"backup.json": json.dumps(broken), **files}), "a relationship names someone who is not in the cast"),
        (
            zip_of({"backup.json": json.dumps(document), **files, **{n: b"<html>" for n in files if "images/" in n}}),
            "not a usable image",
        ),
    ]
    for data, reason in cases:
        page = restore(writer_client, data).content.decode()
        failed = Upload.objects.latest("created_at")
        assert failed.status == Upload.Status.FAILED and reason in failed.message, (reason, failed.message)
        assert reason in page
    assert (Story.objects.count(), Character.objects.count()) == (stories_before, characters_before)


def zip_of(entries: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_another_writer_cannot_back_up_a_story(other_client, full_story):
    assert other_client.get(reverse("story_backup", args=[full_story.pk])).status_code == 404


def test_a_huge_upload_is_refused_before_it_is_read(writer_client, settings):
    settings.BACKUP_MAX_BYTES = 1000
    response = writer_client.post(reverse("backup_restore"), {"backup": SimpleUploadedFile("b.zip", b"x" * 50_000)})
    assert response.status_code == 413 and "too large; the limit is" in response.content.decode()


def test_an_account_backup_restores_every_story_and_the_loose_characters(writer_client, full_story, user, other_user):
    make_story(user, title="A second story")
    loner = make_character(user, name="Loner", goals="Be left alone.")
    Picture.store(png(20, 20), owner=user, kind="portrait", character=loner, status="accepted", source="uploaded")
    archive = streamed_body(writer_client.get(reverse("account_backup")))

    other = Client()
    other.force_login(other_user)
    response = restore(other, archive, "all.zip")
    assert response.get("Location") == reverse("dashboard"), Upload.objects.get(owner=other_user).message
    titles = sorted(Story.objects.filter(owner=other_user).values_list("title", flat=True))
    assert titles == ["A second story", "The Keeper of Greyhaven"]
    restored_loner = Character.objects.get(owner=other_user, name="Loner")
    assert restored_loner.goals == "Be left alone." and restored_loner.pictures.get().status == "accepted"
    original, _ = backup_of(writer_client, full_story)
    again, _ = backup_of(other, Story.objects.get(owner=other_user, title="The Keeper of Greyhaven"))
    assert again == original


def test_a_backup_in_the_earlier_format_still_restores(writer_client, full_story, other_user):
    """Format 1 kept each chapter's text and revisions inside backup.json."""
    document, files = backup_of(writer_client, full_story)
    chapters, pictures = [], {name: data for name, data in files.items() if name.startswith("images/")}
    for chapter in document["chapters"]:
        text, *revisions = [json.loads(line) for line in files[chapter["file"]].decode().splitlines()]
        chapters.append({**{k: v for k, v in chapter.items() if k != "file"}, **text, "revisions": revisions})
    old = {**document, "version": 1, "chapters": chapters}
    other = Client()
    other.force_login(other_user)
    restore(other, zip_of({"backup.json": json.dumps(old), **pictures}))
    assert backup_of(other, Story.objects.get(owner=other_user)) == (document, files)
