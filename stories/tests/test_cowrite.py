"""Writing a chapter together through the real websocket (daphne, Redis channel layer, PostgreSQL): the sync
handshake, updates and presence between two writers, roles, settling into the chapter's text and history, changes
made elsewhere brought in, and a removed collaborator cut off at once."""

import asyncio
import json
import time

import pytest
import websockets
from django.db import connections
from django.test import Client

from api.models import ApiToken
from stories import cowrite, presence
from stories.models import Chapter, ChapterRevision, DraftUpdate, Role, SharedDraft, StoryMembership
from tests.factories import make_chapter, make_story, make_user
from tests.yclient import YClient

pytestmark = pytest.mark.django_db(transaction=True)


def session_of(person) -> str:
    client = Client()
    client.force_login(person)
    return client.cookies["sessionid"].value


async def in_thread(work, *args, **kwargs):
    """Database or test-client work from the event loop, in a thread that gives its pooled connection back (a
    thread's connection is otherwise held until the process's pool runs dry for the tests after)."""

    def run():
        try:
            return work(*args, **kwargs)
        finally:
            connections.close_all()

    return await asyncio.to_thread(run)


async def until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def settled_to(chapter, text, timeout=10):
    """Settle until the chapter holds `text` (the last editor's batch is stored as its connection closes)."""
    deadline = time.monotonic() + timeout
    while True:
        cowrite.settle(chapter.pk)
        chapter.refresh_from_db()
        if chapter.content == text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert chapter.content == text


@pytest.fixture
def pair(user):
    story = make_story(user, title="Together")
    chapter = make_chapter(story, content="Mara walked to the pier.")
    partner = make_user("partner@example.com")
    StoryMembership.objects.create(story=story, user=partner, role=Role.CO_AUTHOR)
    return story, chapter, partner


def test_two_writers_see_each_others_typing_and_presence_and_it_settles_into_a_revision(web_server, pair, user):
    story, chapter, partner = pair
    a, b = (YClient(web_server, story.pk, chapter.pk, session_of(who)) for who in (user, partner))

    async def run():
        await a.connect()
        await b.connect()
        assert str(a) == str(b) == "Mara walked to the pier."  # the document was made once, from the text
        a.append(" The tide was out.")
        b.insert(0, "At dawn, ")
        await until(lambda: str(a) == str(b) == "At dawn, Mara walked to the pier. The tide was out.")
        await a.announce({"user": {"name": "Writer", "color": "#c33"}, "id_content": {"selection": True}})
        await until(lambda: any(p.get("user", {}).get("name") == "Writer" for p in b.peers.values()))
        await a.close()  # leaving clears the caret at once
        await until(lambda: not b.peers)
        await b.close()

    asyncio.run(run())
    settled_to(chapter, "At dawn, Mara walked to the pier. The tide was out.")
    latest = chapter.revisions.first()
    assert latest.source == ChapterRevision.Source.TOGETHER and latest.author in (user, partner)
    assert DraftUpdate.objects.filter(chapter=chapter).count() == 1  # compacted


def test_readers_see_the_text_live_but_cannot_change_it(web_server, pair, user):
    story, chapter, partner = pair
    reader = make_user("reader@example.com")
    StoryMembership.objects.create(story=story, user=reader, role=Role.READER)
    sessions = {who: session_of(who) for who in (user, reader, partner)}

    async def run():
        writer = YClient(web_server, story.pk, chapter.pk, sessions[user])
        watching = YClient(web_server, story.pk, chapter.pk, sessions[reader])
        await writer.connect()
        await watching.connect()
        watching.append(" Vandalised.")
        writer.append(" Rain.")
        await until(lambda: "Rain." in str(watching))
        await asyncio.sleep(0.5)
        assert "Vandalised" not in str(writer)
        await writer.close()
        await watching.close()
        fresh = YClient(web_server, story.pk, chapter.pk, sessions[partner])
        await fresh.connect()
        assert str(fresh) == "Mara walked to the pier. Rain."
        await fresh.close()

    asyncio.run(run())


def test_everyone_in_the_story_sees_who_is_in_which_chapter(web_server, pair, user):
    story, chapter, partner = pair
    other_chapter = make_chapter(story, title="Two", content="Later.")
    reader = make_user("reader@example.com", display_name="Rhea")
    StoryMembership.objects.create(story=story, user=reader, role=Role.READER)
    sessions = {who: session_of(who) for who in (user, reader, partner)}
    stranger_story = make_story(make_user("elsewhere@example.com"))

    def where(client):
        return {(p["name"], p["chapter"]) for p in client.presence or []}

    async def run():
        writer = YClient(web_server, story.pk, chapter.pk, sessions[user])
        await writer.connect()
        await until(lambda: where(writer) == {(str(user), chapter.pk)})
        watching = YClient(web_server, story.pk, other_chapter.pk, sessions[reader])
        await watching.connect()
        both = {(str(user), chapter.pk), ("Rhea", other_chapter.pk)}
        await until(lambda: where(writer) == both and where(watching) == both)
        second_tab = YClient(web_server, story.pk, other_chapter.pk, sessions[reader])
        await second_tab.connect()
        await until(lambda: where(second_tab) == both)  # one person in one chapter shows once
        await second_tab.close()
        await watching.close()
        await until(lambda: where(writer) == {(str(user), chapter.pk)})
        await writer.close()

    asyncio.run(run())
    deadline = time.monotonic() + 10  # the server hears the last one leave a moment after the socket closes
    while presence.here(story.pk) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert presence.here(story.pk) == [] and presence.here(stranger_story.pk) == []


def test_a_connection_that_went_silent_drops_out_of_presence(pair, user):
    story, chapter, _ = pair
    presence.arrive(story.pk, "gone-process", user, chapter.pk)
    stored = presence._redis().hget(presence._key(story.pk), "gone-process")
    old = {**json.loads(stored), "at": time.time() - presence.STALE_SECONDS - 1}
    presence._redis().hset(presence._key(story.pk), "gone-process", json.dumps(old))
    assert presence.here(story.pk) == []
    assert not presence._redis().hexists(presence._key(story.pk), "gone-process")  # removed on the way


def test_a_comment_reaches_the_other_open_pages_of_the_chapter(web_server, pair, user):
    story, chapter, partner = pair
    sessions = {who: session_of(who) for who in (user, partner)}
    commenter = Client()
    commenter.force_login(partner)

    async def run():
        mine = YClient(web_server, story.pk, chapter.pk, sessions[user])
        theirs = YClient(web_server, story.pk, chapter.pk, sessions[partner])
        await mine.connect()
        await theirs.connect()
        response = await in_thread(
            commenter.post, f"/stories/{story.pk}/chapters/{chapter.pk}/comments/",
            {"quote": "the pier", "prefix": "Mara walked to ", "suffix": ".", "start": "15", "body": "Which pier?"},
            headers={"HX-Request": "true"},
        )  # fmt: skip
        assert response.status_code == 201
        await until(lambda: mine.reviews == 1)
        await asyncio.sleep(0.3)
        assert theirs.reviews == 0  # the one who commented sees it already
        await mine.close()
        await theirs.close()

    asyncio.run(run())


def test_strangers_are_refused_and_removed_collaborators_cut_off_at_once(web_server, pair, user, other_user):
    story, chapter, partner = pair
    strangers, theirs = session_of(other_user), session_of(partner)
    owner = Client()
    owner.force_login(user)
    member = StoryMembership.objects.get(story=story, user=partner)

    async def run():
        stranger = YClient(web_server, story.pk, chapter.pk, strangers)
        with pytest.raises(websockets.InvalidStatus):  # refused before the handshake completes
            await stranger.connect(timeout=3)
        client = YClient(web_server, story.pk, chapter.pk, theirs)
        await client.connect()
        await in_thread(owner.post, f"/stories/{story.pk}/people/{member.pk}/", {"action": "remove"})
        await until(lambda: client.socket is None)
        assert client.closed_with == 4404

    asyncio.run(run())


def test_offline_edits_merge_on_reconnect(web_server, pair, user):
    story, chapter, partner = pair
    a, b = (YClient(web_server, story.pk, chapter.pk, session_of(who)) for who in (user, partner))

    async def run():
        await a.connect()
        await b.connect()
        await b.close()
        b.append(" Offline words.")  # typed with no connection
        a.insert(0, "Online. ")
        await asyncio.sleep(0.5)
        await b.connect()
        await until(lambda: str(a) == str(b) == "Online. Mara walked to the pier. Offline words.")
        await a.close()
        await b.close()

    asyncio.run(run())
    settled_to(chapter, "Online. Mara walked to the pier. Offline words.")


def test_a_change_made_elsewhere_joins_the_document_without_losing_typing(web_server, pair, user):
    story, chapter, partner = pair
    theirs = session_of(partner)

    def stored_updates():
        return DraftUpdate.objects.filter(chapter=chapter).count()

    def change_elsewhere():  # an accepted suggestion, proposal or restore changes the stored chapter
        stored = Chapter.objects.get(pk=chapter.pk)
        stored.save_content(stored.content.replace("walked", "ran"), base_version=stored.version, author=user)

    async def run():
        a = YClient(web_server, story.pk, chapter.pk, theirs)
        await a.connect()
        a.append(" She waited.")
        deadline = time.monotonic() + 10
        while await in_thread(stored_updates) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await in_thread(change_elsewhere)
        await in_thread(cowrite.settle, chapter.pk)
        await until(lambda: str(a) == "Mara ran to the pier. She waited.")
        await a.close()

    asyncio.run(run())
    assert Chapter.objects.get(pk=chapter.pk).content == "Mara ran to the pier. She waited."
    draft = SharedDraft.objects.get(pk=chapter.pk)
    assert draft.settled_text == "Mara ran to the pier. She waited."


def test_a_change_through_the_api_reaches_the_writers_typing_live(web_server, start_worker, pair, user):
    story, chapter, partner = pair
    theirs = session_of(partner)
    _, key = ApiToken.issue(user, "sync tool")
    api = Client(headers={"Authorization": f"Bearer {key}"})
    start_worker()

    async def run():
        live = YClient(web_server, story.pk, chapter.pk, theirs)
        await live.connect()
        stored = await in_thread(Chapter.objects.get, pk=chapter.pk)
        response = await in_thread(
            api.patch, f"/api/stories/{story.pk}/chapters/{chapter.pk}",
            {"content": stored.content.replace("pier", "harbour wall"), "base_version": stored.version},
            content_type="application/json",
        )  # fmt: skip
        assert response.status_code == 200, response.content
        # Nobody is typing, so nothing else would settle the chapter: the save itself asks the worker to.
        await until(lambda: str(live) == "Mara walked to the harbour wall.", timeout=8)
        live.append(" She waited.")
        await live.close()

    asyncio.run(run())


def test_bringing_in_a_change_keeps_positions_with_wide_characters(pair):
    story, chapter, partner = pair
    chapter.save_content("Café 😀 noon.", base_version=chapter.version)
    cowrite.open_draft(chapter.pk)
    stored = Chapter.objects.get(pk=chapter.pk)
    stored.save_content("Café 😀 midnight.", base_version=stored.version)
    cowrite.settle(chapter.pk)
    assert Chapter.objects.get(pk=chapter.pk).content == "Café 😀 midnight."
    doc = cowrite.document(DraftUpdate.objects.filter(chapter=chapter).values_list("data", flat=True))
    assert cowrite.text_of(doc) == "Café 😀 midnight."


def test_a_draft_left_unsettled_by_a_killed_process_is_settled_by_maintenance(pair):
    from datetime import timedelta

    from django.utils import timezone
    from pycrdt import Doc, Text

    story, chapter, partner = pair
    state = cowrite.open_draft(chapter.pk)
    doc = Doc()
    doc.apply_update(state)
    before = doc.get_state()
    doc.get(cowrite.TEXT, type=Text).insert(0, "Unsaved. ")
    cowrite.store_update(chapter.pk, doc.get_update(before), partner.pk)  # then the process died
    assert cowrite.settle_forgotten() == 0  # not quiet long enough yet
    SharedDraft.objects.filter(pk=chapter.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    DraftUpdate.objects.filter(chapter=chapter).update(created_at=timezone.now() - timedelta(seconds=30))
    assert cowrite.settle_forgotten() == 1
    chapter.refresh_from_db()
    assert chapter.content == "Unsaved. Mara walked to the pier."
    assert chapter.revisions.first().author == partner
    assert cowrite.settle_forgotten() == 0
