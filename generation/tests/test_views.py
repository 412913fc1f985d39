import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from generation.models import GenerationTask
from generation.tasks import run_generation
from stories.models import WorldEntry
from storyassistant.asgi import application
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


def ask(client, story, chapter, headers=None, **data):
    data = {"mode": "next_chapter", "chapter": chapter.pk, **data}
    return client.post(reverse("generate", args=[story.pk]), data, **(headers or {}))


def test_asking_from_the_editor_queues_a_task_and_shows_its_live_panel(writer_client, story_with_cast, redis_conn):
    story, chapter = story_with_cast
    response = ask(writer_client, story, chapter, headers=HTMX, note="A storm comes.", cursor=5)
    task = GenerationTask.objects.get()
    html = response.content.decode()
    assert f'ws-connect="/ws/tasks/{task.pk}/"' in html and f'id="task-{task.pk}"' in html
    assert task.request["note"] == "A storm comes." and task.request["cursor"] == 5
    assert task.request["base_version"] == chapter.version
    assert redis_conn.llen("rq:queue:realtime") == 1  # dispatched straight away: the slot was free


def test_bad_requests_get_a_clear_error(writer_client, story_with_cast):
    story, chapter = story_with_cast
    response = ask(writer_client, story, chapter, headers=HTMX, mode="rewrite")
    assert response.status_code == 400 and "Select the passage to rewrite" in response.content.decode()
    response = ask(writer_client, story, chapter, headers=HTMX, mode="dialogue")
    assert "Choose at least one character" in response.content.decode()
    assert not GenerationTask.objects.exists()


def test_the_editor_shows_pending_proposals(writer_client, user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    ask(writer_client, story, chapter)
    task = GenerationTask.objects.get()
    run_generation(str(task.pk))
    html = writer_client.get(chapter.get_absolute_url()).content.decode()
    assert f'id="task-{task.pk}"' in html and "Add as a new chapter" in html


def test_accept_discard_rate_regenerate_and_world_proposals(writer_client, user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    fake_ollama.state["reply"] = lambda body: (
        "Mara rowed out to Halloway Rock where the bell buoy tolled. " + " ".join(["The sea was grey and wide."] * 1)
        + " She listened to the gulls over the water for a long while before she turned back toward the harbour"
        " and the lamp that waited for her in the tower above the town."
    )  # fmt: skip
    ask(writer_client, story, chapter)
    task = GenerationTask.objects.get()
    run_generation(str(task.pk))
    task.refresh_from_db()
    assert [p["name"] for p in task.context_report["world_proposals"]] == ["Halloway Rock"]

    writer_client.post(reverse("world_proposal_accept", args=[task.pk]), {"name": "Halloway Rock"})
    entry = WorldEntry.objects.get(story=story, name="Halloway Rock")
    assert entry.kind == "location" and entry.description.startswith("Mara rowed out to Halloway Rock")

    writer_client.post(reverse("task_rate", args=[task.pk]), {"rating": 4})
    assert GenerationTask.objects.get(pk=task.pk).user_rating == 4
    assert writer_client.post(reverse("task_rate", args=[task.pk]), {"rating": 9}).status_code == 302
    assert GenerationTask.objects.get(pk=task.pk).user_rating == 4

    response = writer_client.post(reverse("proposal_accept", args=[task.pk]), {"text": "Edited by the writer."})
    new = story.chapters.get(order=chapter.order + 1)
    assert response["Location"] == new.get_absolute_url() and new.content == "Edited by the writer."
    told = [str(m) for m in get_messages(response.wsgi_request)]
    assert told[-1] == f"Added to your story as a new chapter, “{new.title}”."  # there was no earlier text to keep

    response = writer_client.post(reverse("task_regenerate", args=[task.pk]), {"note": "More storm."})
    again = GenerationTask.objects.exclude(pk=task.pk).get()
    assert response["Location"] == again.get_absolute_url() and again.request["note"] == "More storm."
    run_generation(str(again.pk))
    writer_client.post(reverse("proposal_discard", args=[again.pk]))
    assert GenerationTask.objects.get(pk=again.pk).proposal_status == "discarded"


def test_the_task_page_shows_what_the_team_did_and_why(writer_client, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    ask(writer_client, story, chapter)
    task = GenerationTask.objects.get()
    run_generation(str(task.pk))
    html = writer_client.get(task.get_absolute_url()).content.decode()
    assert "How the team worked" in html and "What the writer was given" in html
    assert "sliding window of the most recent chapters" in html and "The draft passed every check." in html


def test_another_user_gets_404_for_every_task_url(other_client, user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    task = GenerationTask.objects.create(user=user, story=story, chapter=chapter)
    for name in ["task_detail"]:
        assert other_client.get(reverse(name, args=[task.pk])).status_code == 404
    for name in ["task_cancel", "proposal_accept", "proposal_discard", "task_regenerate", "task_rate",
                 "world_proposal_accept", "finding_ignore"]:  # fmt: skip
        assert other_client.post(reverse(name, args=[task.pk])).status_code == 404, name
    assert ask(other_client, story, chapter).status_code == 404
    assert GenerationTask.objects.get(pk=task.pk).status == "queued"


def test_agent_metrics_for_staff_only(client, writer_client, user, fake_ollama, story_with_cast):
    story, chapter = story_with_cast
    ask(writer_client, story, chapter)
    run_generation(str(GenerationTask.objects.get().pk))
    assert writer_client.get(reverse("agent_metrics")).status_code == 302
    client.force_login(make_user(is_staff=True))
    html = client.get(reverse("agent_metrics")).content.decode()
    assert "Narrative writer" in html and "100%" in html and "ms" in html


# --- JSON API -----------------------------------------------------------------------------------------------------


def session_headers(user):
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", b"http://localhost")]


@pytest.fixture
async def channel_layer():
    """A channel layer of the test's own. channels_redis keeps its receive lock and buffers on the layer object,
    which other event loops (earlier tests, async_to_sync threads) also used; a receive left from one of them
    could keep this loop's teardown waiting for good."""
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers, get_channel_layer

    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    layer = get_channel_layer()
    yield layer
    await layer.close_pools()
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


async def connect(user, task):
    from asgiref.sync import sync_to_async

    headers = await sync_to_async(session_headers)(user)
    communicator = WebsocketCommunicator(application, f"/ws/tasks/{task.pk}/", headers=headers)
    return communicator, await communicator.connect()


@pytest.mark.asyncio
async def test_the_owner_subscribes_and_gets_the_current_state_at_once(user, story_with_cast, channel_layer):
    from asgiref.sync import sync_to_async

    story, chapter = story_with_cast
    task = await sync_to_async(GenerationTask.objects.create)(user=user, story=story, chapter=chapter)
    communicator, (connected, _) = await connect(user, task)
    assert connected
    first = await communicator.receive_from(timeout=5)
    assert f'id="task-{task.pk}"' in first and 'hx-swap-oob="outerHTML"' in first
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_another_user_cannot_subscribe(user, story_with_cast, channel_layer):
    from asgiref.sync import sync_to_async

    story, chapter = story_with_cast
    task = await sync_to_async(GenerationTask.objects.create)(user=user, story=story, chapter=chapter)
    stranger = await sync_to_async(make_user)()
    communicator, (connected, code) = await connect(stranger, task)
    assert not connected and code == 4404
    # As a server does after a refused handshake: the consumer ends here, not when the event loop is torn down.
    await communicator.disconnect()


def test_a_finding_can_be_ignored_listed_in_the_bible_and_raised_again(writer_client, user, story_with_cast):
    from agents.models import IgnoredFinding

    story, chapter = story_with_cast
    finding = {
        "check": "character_consistency", "severity": "fail", "fingerprint": "abc123",
        "message": "Mara (eye colour): Mara's profile: appearance says “green eyes”, the draft says “blue eyes”.",
        "evidence": "Her blue eyes narrowed.", "earlier": {"text": "Mara has green eyes.", "source": "Mara's profile"},
    }  # fmt: skip
    task = GenerationTask.objects.create(
        user=user, story=story, chapter=chapter, status="succeeded", proposal_status="pending",
        quality_report={"verdict": "fail", "findings": [finding]},
    )  # fmt: skip
    page = writer_client.get(task.get_absolute_url()).content.decode()
    assert "Earlier, in Mara&#x27;s profile" in page and 'name="fingerprint" value="abc123"' in page

    url = reverse("finding_ignore", args=[task.pk])
    assert writer_client.post(url, {"fingerprint": "nope"}).status_code == 404
    panel = writer_client.post(url, {"fingerprint": "abc123"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Ignored" in panel and 'value="abc123"' not in panel
    ignored = IgnoredFinding.objects.get(story=story)
    assert ignored.fingerprint == "abc123" and ignored.kind == "character_consistency"
    task.refresh_from_db()
    assert task.quality_report["findings"][0]["ignored"] is True

    bible = writer_client.get(reverse("story_bible", args=[story.pk])).content.decode()
    assert "says “green eyes”" in bible and "Raise again" in bible
    writer_client.post(reverse("finding_restore", args=[story.pk, ignored.pk]))
    assert not IgnoredFinding.objects.exists()


def test_a_person_a_draft_introduces_joins_the_cast_as_the_writer_describes_them(writer_client, fake_ollama,
                                                                                 story_with_cast):  # fmt: skip
    story, chapter = story_with_cast
    fake_ollama.state["reply"] = lambda body: (
        "Mara met Tomas at the quay before the boats came in. “Late again,” Tomas said, and he smiled at her. "
        "They walked up the hill together while the light failed over the water and the gulls went quiet."
    )
    ask(writer_client, story, chapter)
    task = GenerationTask.objects.get()
    run_generation(str(task.pk))
    page = writer_client.get(task.get_absolute_url()).content.decode()
    assert 'data-proposal="Tomas"' in page and '<option value="character" selected>' in page

    writer_client.post(
        reverse("world_proposal_accept", args=[task.pk]),
        {"name": "Tomas", "kind": "character", "description": "A fisherman, always late."},
    )
    member = story.cast.select_related("character").get(character__name="Tomas")
    assert member.character.backstory == "A fisherman, always late." and member.role == "minor"
    assert not WorldEntry.objects.filter(name="Tomas").exists()


def test_ai_proposals_share_the_review_list_and_any_writer_of_the_story_decides(writer_client, user, story_with_cast):
    from stories.models import Role, StoryMembership

    story, chapter = story_with_cast
    partner, reader = make_user(), make_user()
    StoryMembership.objects.create(story=story, user=partner, role=Role.CO_AUTHOR)
    StoryMembership.objects.create(story=story, user=reader, role=Role.READER)
    task = GenerationTask.objects.create(
        user=partner, story=story, chapter=chapter, mode=GenerationTask.Mode.CONTINUE, status="succeeded",
        proposal_status="pending", result_content="The gulls went quiet over the water.",
    )  # fmt: skip
    page = writer_client.get(reverse("chapter_edit", args=[story.pk, chapter.pk])).content.decode()
    assert "From the AI team" in page and "The gulls went quiet" in page
    assert reverse("proposal_accept", args=[task.pk]) in page
    reading = Client()
    reading.force_login(reader)
    shown = reading.get(reverse("chapter_edit", args=[story.pk, chapter.pk])).content.decode()
    assert "The gulls went quiet" not in shown  # the writers' review, not the readers'
    assert reading.post(reverse("proposal_accept", args=[task.pk])).status_code == 404

    assert writer_client.post(reverse("proposal_accept", args=[task.pk])).status_code == 302
    chapter.refresh_from_db()
    assert "The gulls went quiet over the water." in chapter.content
    task.refresh_from_db()
    assert task.proposal_status == GenerationTask.Proposal.ACCEPTED
    # Once no longer a writer of the story, the partner's own proposals are out of reach too.
    StoryMembership.objects.filter(user=partner).update(role=Role.EDITOR)
    other = GenerationTask.objects.create(user=partner, story=story, chapter=chapter, status="succeeded",
                                          proposal_status="pending", result_content="More.")  # fmt: skip
    editing = Client()
    editing.force_login(partner)
    assert editing.post(reverse("proposal_accept", args=[other.pk])).status_code == 404
