"""Comments and suggestions on a shared chapter: anchors that follow the passage, replies, resolving, accepting
through the revision history, and the notifications they send."""

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from stories.anchors import CHANGED, GONE, HERE, Found, anchor_at, locate
from stories.feedback import marked
from stories.models import ChapterRevision, Comment, Notification, Role, StoryMembership, Suggestion
from stories.tasks import send_notification_digests
from tests.factories import make_chapter, make_story, make_user

TEXT = "The tide came in. Mara waited on the pier until the lamps went out. Then she walked home alone."


@pytest.fixture
def team(user):
    story = make_story(user, title="Harbour")
    chapter = make_chapter(story, title="One", content=TEXT)
    people = {role: make_user(f"{role}@example.com") for role in Role.values}
    for role, person in people.items():
        StoryMembership.objects.create(story=story, user=person, role=role)
    return story, chapter, people


def client_for(person):
    client = Client()
    client.force_login(person)
    return client


def select(text, quote):
    start = text.index(quote)
    anchor = anchor_at(text, start, start + len(quote))
    return {"quote": anchor.quote, "prefix": anchor.prefix, "suffix": anchor.suffix, "start": str(anchor.start)}


def test_a_beta_reader_comments_and_the_writers_are_notified(team, user, writer_client):
    story, chapter, people = team
    url = reverse("comment_add", args=[story.pk, chapter.pk])
    reader = client_for(people[Role.READER])
    response = reader.post(
        url, {"body": "Why does she wait?", **select(TEXT, "Mara waited on the pier")}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 201 and "Why does she wait?" in response.content.decode()
    comment = Comment.objects.get()
    assert comment.author == people[Role.READER] and comment.quote == "Mara waited on the pier"
    told = set(Notification.objects.values_list("user__email", flat=True))
    assert told == {user.email, people[Role.CO_AUTHOR].email}  # the writers, not the commenter or the editor
    # The owner sees it in the chapter and in the header.
    page = writer_client.get(reverse("chapter_edit", args=[story.pk, chapter.pk])).content.decode()
    assert "Why does she wait?" in page and 'class="badge">1<' in page

    # A reply notifies the thread's author; the reader cannot resolve someone else's thread, the writer can.
    writer_client.post(url, {"body": "She hopes he comes back.", "parent": comment.pk})
    assert Notification.objects.filter(user=people[Role.READER], kind="reply").exists()
    resolve = reverse("comment_resolve", args=[story.pk, chapter.pk, comment.pk])
    assert client_for(people[Role.EDITOR]).post(resolve).status_code == 403
    assert writer_client.post(resolve).status_code == 302
    comment.refresh_from_db()
    assert comment.resolved_at is not None and comment.resolved_by == user


def test_comments_follow_their_passage_and_say_when_it_is_gone(team, user):
    story, chapter, people = team
    comment = Comment.objects.create(chapter=chapter, author=user, body="Lovely.", **_anchor(TEXT, "lamps went out"))
    moved = "A new opening line. " + TEXT
    found = comment.found_in(moved)
    assert found.state == HERE and moved[found.start : found.end] == "lamps went out"
    rewritten = TEXT.replace("lamps went out", "last lamp died")
    found = comment.found_in(rewritten)
    assert found.state == CHANGED and rewritten[found.start : found.end] == "last lamp died"
    assert comment.found_in("Something else entirely.").state == GONE


def test_the_same_words_twice_anchor_to_the_one_with_the_same_context(user):
    text = "He said no. She laughed. He said no. She wept."
    anchor = anchor_at(text, text.rindex("He said no"), text.rindex("He said no") + 10)
    edited = "Later. " + text
    found = locate(edited, anchor)
    assert found.state == HERE and found.start == edited.rindex("He said no")


def test_an_editor_suggests_and_a_co_author_accepts_through_the_history(team, user):
    story, chapter, people = team
    editor = client_for(people[Role.EDITOR])
    url = reverse("suggestion_add", args=[story.pk, chapter.pk])
    response = editor.post(url, {"replacement": "Mara lingered on the pier", **select(TEXT, "Mara waited on the pier")})
    assert response.status_code == 302
    suggestion = Suggestion.objects.get()
    assert Notification.objects.filter(kind="suggestion").count() == 2
    # An editor cannot decide; a co-author can.
    decide = reverse("suggestion_decide", args=[story.pk, chapter.pk, suggestion.pk])
    assert editor.post(decide, {"decision": "accept"}).status_code == 404
    assert client_for(people[Role.CO_AUTHOR]).post(decide, {"decision": "accept"}).status_code == 302
    chapter.refresh_from_db()
    assert chapter.content == TEXT.replace("Mara waited on the pier", "Mara lingered on the pier")
    latest = chapter.revisions.first()
    assert latest.source == ChapterRevision.Source.SUGGESTION and latest.author == people[Role.CO_AUTHOR]
    assert "editor@example.com" in latest.note
    suggestion.refresh_from_db()
    assert suggestion.status == Suggestion.Status.ACCEPTED
    assert Notification.objects.filter(user=people[Role.EDITOR], kind="decision").exists()
    # Deciding twice is refused, not applied twice.
    again = client_for(people[Role.CO_AUTHOR]).post(decide, {"decision": "accept"})
    assert again.status_code == 409
    chapter.refresh_from_db()
    assert chapter.content.count("lingered") == 1


def test_a_suggestion_whose_passage_changed_is_not_applied(team, user, writer_client):
    story, chapter, people = team
    suggestion = Suggestion.objects.create(
        chapter=chapter, author=people[Role.EDITOR], replacement="sat", **_anchor(TEXT, "waited")
    )
    chapter.save_content(TEXT.replace("waited", "stood"), base_version=chapter.version, author=user)
    decide = reverse("suggestion_decide", args=[story.pk, chapter.pk, suggestion.pk])
    response = writer_client.post(decide, {"decision": "accept"})
    assert response.status_code == 409 and "changed" in response.content.decode()
    chapter.refresh_from_db()
    assert "stood" in chapter.content and "sat" not in chapter.content.split()
    assert Suggestion.objects.get().status == Suggestion.Status.OPEN


def test_rejecting_tells_the_suggester(team, user, writer_client):
    story, chapter, people = team
    suggestion = Suggestion.objects.create(
        chapter=chapter, author=people[Role.EDITOR], replacement="x", **_anchor(TEXT, "alone")
    )
    writer_client.post(reverse("suggestion_decide", args=[story.pk, chapter.pk, suggestion.pk]), {"decision": "reject"})
    assert Suggestion.objects.get().status == Suggestion.Status.REJECTED
    assert Notification.objects.get(user=people[Role.EDITOR]).kind == "decision"
    assert Client().get("/").status_code == 302  # nothing leaked to anonymous visitors


def test_bad_comments_get_clear_errors(team):
    story, chapter, people = team
    reader = client_for(people[Role.READER])
    url = reverse("comment_add", args=[story.pk, chapter.pk])
    assert reader.post(url, {"body": "x"}).status_code == 400  # no passage selected
    assert reader.post(url, {"body": "", **select(TEXT, "tide")}).status_code == 400
    assert reader.post(url, {"body": "x" * 5001, **select(TEXT, "tide")}).status_code == 413
    assert reader.post(url, {"body": "x", **select(TEXT, "tide"), "quote": "q" * 2001}).status_code == 400
    assert not Comment.objects.exists()


def test_switched_off_notifications_are_not_made_and_digests_are_daily(team, user):
    story, chapter, people = team
    people[Role.CO_AUTHOR].notify_in_app = False
    people[Role.CO_AUTHOR].save()
    reader = client_for(people[Role.READER])
    reader.post(reverse("comment_add", args=[story.pk, chapter.pk]), {"body": "Hm.", **select(TEXT, "tide")})
    assert list(Notification.objects.values_list("user", flat=True)) == [user.pk]
    assert send_notification_digests() == 0  # not a day old yet
    Notification.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert send_notification_digests() == 1
    assert mail.outbox[-1].to == [user.email] and "Hm." in mail.outbox[-1].body
    assert send_notification_digests() == 0  # mailed once


def test_notifications_page_marks_read_and_saves_switches(team, user, writer_client):
    story, chapter, people = team
    client_for(people[Role.READER]).post(
        reverse("comment_add", args=[story.pk, chapter.pk]), {"body": "Hm.", **select(TEXT, "tide")}
    )
    page = writer_client.get(reverse("notifications")).content.decode()
    assert "commented on “One”" in page
    note = Notification.objects.get(user=user)
    opened = writer_client.post(reverse("notifications_read"), {"notification": note.pk})
    assert opened.status_code == 302 and opened["Location"] == note.url
    note.refresh_from_db()
    assert note.read_at is not None
    writer_client.post(reverse("notifications_read"), {"settings": "1", "in_app": "on"})
    user.refresh_from_db()
    assert user.notify_in_app and not user.notify_digest


def _anchor(text, quote):
    start = text.index(quote)
    anchor = anchor_at(text, start, start + len(quote))
    return {"quote": anchor.quote, "prefix": anchor.prefix, "suffix": anchor.suffix, "start": anchor.start}


words = st.lists(st.sampled_from(["a", "b", "ab", " ", "\n", "é", "😀", "the", "sea"]), max_size=300).map("".join)


@settings(max_examples=200, deadline=200)
@given(text=words, data=st.data())
def test_an_anchor_is_found_where_it_was_in_unchanged_text(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    anchor = anchor_at(text, start, end)
    found = locate(text, anchor)
    if anchor.quote:
        assert found.state == HERE and text[found.start : found.end] == anchor.quote


@settings(max_examples=200, deadline=200)
@given(text=words, before=words, after=words, data=st.data())
def test_an_anchor_survives_edits_around_it(text, before, after, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    anchor = anchor_at(text, start, end)
    edited = before + text + after
    found = locate(edited, anchor)
    if anchor.quote:
        assert found.state == HERE and edited[found.start : found.end] == anchor.quote


def test_locating_is_bounded_on_hostile_text():
    text = "a" * 1_000_000
    anchor = anchor_at(text, 500_000, 500_100)
    started = time.perf_counter()
    assert locate(text, anchor).state == HERE
    assert locate(text.replace("a", "b", 1), anchor_at("x" * 64 + "a" * 99 + "c" + "y" * 64, 64, 164)).state == GONE
    assert time.perf_counter() - started < 2


def test_a_common_word_is_found_at_its_own_place_in_a_long_chapter():
    text = "the sea and the sky. " * 3000 + "Mara said the word. " + "the end. " * 3000
    start = text.index("Mara said ") + len("Mara said ")
    anchor = anchor_at(text, start, start + 3)
    edited = "Prologue. " + text
    found = locate(edited, anchor)
    assert found.state == HERE and found.start == start + len("Prologue. ")


def test_suggestions_show_in_the_text_and_are_decided_there(team, user, writer_client):
    story, chapter, people = team
    anchors = {quote: select(TEXT, quote) for quote in ("tide came in", "the lamps", "waited on the pier", "pier")}
    for quote, replacement in (("tide came in", "tide rose"), ("the lamps", "the harbour lights")):
        Suggestion.objects.create(chapter=chapter, author=people[Role.EDITOR], replacement=replacement,
                                  **{**anchors[quote], "start": int(anchors[quote]["start"])})  # fmt: skip
    for quote, body in (("waited on the pier", "Why wait?"), ("pier", "Which pier?")):  # the second overlaps
        Comment.objects.create(chapter=chapter, author=people[Role.READER], body=body,
                               **{**anchors[quote], "start": int(anchors[quote]["start"])})  # fmt: skip
    url = reverse("chapter_changes", args=[story.pk, chapter.pk])

    page = writer_client.get(url).content.decode()
    shown = page[page.index("data-tracked-text>") :]
    order = ["<del>tide came in</del><ins>tide rose</ins>", ">waited on the pier</mark>",
             "<del>the lamps</del><ins>the harbour lights</ins>", "Which pier?"]  # fmt: skip
    assert [shown.index(part) for part in order] == sorted(shown.index(part) for part in order)
    assert "(overlaps another passage)" in page and page.count('name="decision" value="accept"') == 2
    # An editor reads the same page but decides nothing.
    as_editor = client_for(people[Role.EDITOR]).get(url).content.decode()
    assert "<ins>tide rose</ins>" in as_editor and 'value="accept"' not in as_editor

    first = Suggestion.objects.get(replacement="tide rose")
    decided = writer_client.post(reverse("suggestion_decide", args=[story.pk, chapter.pk, first.pk]),
                                 {"decision": "accept", "next": url})  # fmt: skip
    assert decided.status_code == 302 and decided["Location"] == url
    chapter.refresh_from_db()
    assert chapter.content.startswith("The tide rose.") and chapter.revisions.first().source == "suggestion"
    elsewhere = writer_client.post(reverse("suggestion_decide", args=[story.pk, chapter.pk, first.pk + 1]),
                                   {"decision": "reject", "next": "https://evil.example/"})  # fmt: skip
    assert elsewhere["Location"] == chapter.get_absolute_url()  # never off the site
    assert "Nothing open" not in writer_client.get(url).content.decode()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.lists(st.tuples(st.integers(0, 320), st.integers(0, 60)), max_size=12))
def test_marking_the_text_keeps_every_character_once_in_order(text, spans):
    class Item:
        def __init__(self, start, length):
            end = min(len(text), start + length)
            self.found = Found(HERE if start < end else GONE, min(start, len(text)), end)

    items = [Item(start, length) for start, length in spans]
    pieces = marked(text, items)
    assert "".join(piece.text for piece in pieces) == text
    placed = [piece.item for piece in pieces if piece.item]
    starts = [item.found.start for item in placed]
    assert starts == sorted(starts) and all(piece.text for piece in pieces)
