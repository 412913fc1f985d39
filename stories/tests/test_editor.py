import pytest
from django.urls import reverse

from stories.models import CHAPTER_MAX_CHARS, CONFLICT_NOTE, Chapter
from tests.factories import make_chapter, make_story

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def story(user):
    return make_story(user)


@pytest.fixture
def chapter(story):
    return make_chapter(story, title="Arrival", content="The ship docked at dawn.")


def save(client, chapter, content, base_version, title=None, **extra):
    url = reverse("chapter_save", args=[chapter.story_id, chapter.pk])
    data = {"title": title or chapter.title, "content": content, "base_version": base_version}
    return client.post(url, data, **extra)


def test_autosave_saves_text_keeps_a_revision_and_reports_the_new_version(writer_client, chapter, user):
    response = save(writer_client, chapter, "The ship docked at dawn. Gulls screamed.", chapter.version, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="base_version" value="2"' in html
    assert 'data-state="saved"' in html
    assert 'id="story-words" hx-swap-oob="true">7<' in html
    chapter.refresh_from_db()
    assert chapter.content == "The ship docked at dawn. Gulls screamed." and chapter.word_count == 7
    assert chapter.revisions.first().author == user


def test_a_stale_save_is_refused_and_both_texts_are_kept(writer_client, chapter):
    base = chapter.version
    assert save(writer_client, chapter, "Tab one's text.", base, **HTMX).status_code == 200
    response = save(writer_client, chapter, "Tab two's text.", base, **HTMX)

    assert response.status_code == 409
    html = response.content.decode()
    assert "changed in another tab or device" in html
    assert "Tab one&#x27;s text." in html  # their version is shown
    assert f'name="base_version" value="{base}"' in html  # autosave keeps conflicting until the writer chooses
    chapter.refresh_from_db()
    assert chapter.content == "Tab one's text."
    kept = chapter.revisions.get(note=CONFLICT_NOTE)
    assert kept.content == "Tab two's text."


def test_retrying_the_same_refused_text_keeps_one_copy(writer_client, chapter):
    save(writer_client, chapter, "Newer.", chapter.version, **HTMX)
    for _ in range(3):
        save(writer_client, chapter, "Older tab.", 1, **HTMX)
    assert chapter.revisions.filter(note=CONFLICT_NOTE).count() == 1


def test_keep_mine_saves_over_the_newer_version(writer_client, chapter):
    save(writer_client, chapter, "Theirs.", 1, **HTMX)
    response = save(writer_client, chapter, "Mine.", 2, **HTMX)  # the conflict panel's "keep mine" sends v2
    assert response.status_code == 200
    chapter.refresh_from_db()
    assert chapter.content == "Mine."
    assert list(chapter.revisions.values_list("content", flat=True)[:2]) == ["Mine.", "Theirs."]


def test_an_oversized_chapter_is_refused_with_a_clear_error_and_nothing_changes(writer_client, chapter):
    two_megabytes = "word " * (2 * 1024 * 1024 // 5)
    response = save(writer_client, chapter, two_megabytes, chapter.version, **HTMX)
    assert response.status_code == 413
    assert f"the limit is {CHAPTER_MAX_CHARS:,}" in response.content.decode()
    assert "still in the editor" in response.content.decode()
    chapter.refresh_from_db()
    assert chapter.content == "The ship docked at dawn."


def test_an_empty_title_is_refused_and_the_text_kept_in_the_page(writer_client, chapter):
    response = save(writer_client, chapter, "Words I typed.", chapter.version, title="   ")
    assert response.status_code == 400
    html = response.content.decode()
    assert "A chapter needs a title." in html
    assert "Words I typed." in html  # the full page (no JavaScript) gives the text back
    chapter.refresh_from_db()
    assert chapter.content == "The ship docked at dawn."


def test_unicode_and_emoji_survive_a_round_trip(writer_client, chapter):
    text = "Zoë’s café — naïve 🐉 dragons; 日本語の文章。\n\nSecond paragraph."
    save(writer_client, chapter, text, chapter.version, **HTMX)
    page = writer_client.get(reverse("chapter_edit", args=[chapter.story_id, chapter.pk]))
    assert text in page.content.decode()


def test_script_in_text_and_title_is_escaped(writer_client, chapter):
    save(writer_client, chapter, "<script>alert(1)</script>", chapter.version, title="<script>x</script>", **HTMX)
    html = writer_client.get(reverse("chapter_edit", args=[chapter.story_id, chapter.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>x</script>" not in html


def test_saving_without_javascript_redirects_back_to_the_editor(writer_client, chapter):
    response = save(writer_client, chapter, "Plain form post.", chapter.version)
    assert response.status_code == 302
    assert response["Location"] == chapter.get_absolute_url()


def test_windows_line_endings_are_normalised(writer_client, chapter):
    save(writer_client, chapter, "One.\r\n\r\nTwo.", chapter.version, **HTMX)
    chapter.refresh_from_db()
    assert chapter.content == "One.\n\nTwo."


def test_adding_a_chapter_appends_it_and_opens_it(writer_client, story, chapter):
    response = writer_client.post(reverse("chapter_create", args=[story.pk]), {"title": "Departure"})
    new = Chapter.objects.get(title="Departure")
    assert new.order == 2
    assert response["Location"] == new.get_absolute_url()


def test_adding_a_chapter_without_a_title_names_it_by_position(writer_client, story, chapter):
    writer_client.post(reverse("chapter_create", args=[story.pk]), {"title": ""})
    assert story.chapters.last().title == "Chapter 2"


def test_renaming_a_chapter_keeps_its_text(writer_client, chapter):
    writer_client.post(reverse("chapter_rename", args=[chapter.story_id, chapter.pk]), {"title": "Landfall"}, **HTMX)
    chapter.refresh_from_db()
    assert chapter.title == "Landfall" and chapter.content == "The ship docked at dawn."


def test_moving_chapters_up_and_down(writer_client, story):
    one, two, three = (make_chapter(story, title=t) for t in ["One", "Two", "Three"])
    response = writer_client.post(
        reverse("chapter_move", args=[story.pk, three.pk]), {"direction": "up", "current": three.pk}, **HTMX
    )
    assert response.status_code == 200 and 'id="chapter-list"' in response.content.decode()
    assert list(story.chapters.values_list("title", flat=True)) == ["One", "Three", "Two"]
    writer_client.post(reverse("chapter_move", args=[story.pk, one.pk]), {"direction": "up"})  # already first
    assert list(story.chapters.values_list("title", flat=True)) == ["One", "Three", "Two"]


def test_drag_and_drop_reorder_posts_the_whole_order(writer_client, story):
    one, two, three = (make_chapter(story, title=t) for t in ["One", "Two", "Three"])
    writer_client.post(reverse("chapter_reorder", args=[story.pk]), {"chapter": [three.pk, one.pk, two.pk]}, **HTMX)
    assert list(story.chapters.values_list("title", "order")) == [("Three", 1), ("One", 2), ("Two", 3)]


def test_a_reorder_that_leaves_out_a_chapter_moves_nothing(writer_client, story):
    make_chapter(story, title="One")
    two = make_chapter(story, title="Two")
    writer_client.post(reverse("chapter_reorder", args=[story.pk]), {"chapter": [two.pk]})
    assert list(story.chapters.values_list("title", flat=True)) == ["One", "Two"]


def test_deleting_a_chapter_asks_first_then_closes_the_gap(writer_client, story):
    one, two, three = (make_chapter(story, title=t) for t in ["One", "Two", "Three"])
    url = reverse("chapter_delete", args=[story.pk, two.pk])
    assert "Delete “Two”?" in writer_client.get(url).content.decode()
    writer_client.post(url)
    assert list(story.chapters.values_list("title", "order")) == [("One", 1), ("Three", 2)]


def test_revision_history_shows_a_diff_and_restores(writer_client, chapter):
    save(writer_client, chapter, "The ship left at dusk.", chapter.version, **HTMX)
    first = chapter.revisions.get(version=1)
    page = writer_client.get(reverse("revision_detail", args=[chapter.story_id, chapter.pk, first.pk]))
    html = page.content.decode()
    assert "<del>left </del>" in html and "<ins>docked </ins>" in html

    writer_client.post(reverse("revision_restore", args=[chapter.story_id, chapter.pk, first.pk]))
    chapter.refresh_from_db()
    assert chapter.content == "The ship docked at dawn."
    assert chapter.revisions.count() == 3  # nothing was dropped: v1, v2 and the restore


def test_the_workspace_issues_a_constant_number_of_queries(
    writer_client, story, count_queries, django_assert_num_queries
):
    first = make_chapter(story, content="x " * 500)
    url = reverse("chapter_edit", args=[story.pk, first.pk])
    few = count_queries(lambda: writer_client.get(url))
    for _ in range(25):
        make_chapter(story, content="y " * 500)
    with django_assert_num_queries(few):
        assert writer_client.get(url).status_code == 200


def test_grammar_checks_the_text_in_the_editor_with_offsets_and_context(writer_client, user, languagetool):
    chapter = make_chapter(make_story(user), content="Saved text without mistakes.")
    url = reverse("chapter_grammar", args=[chapter.story.pk, chapter.pk])
    html = writer_client.post(url, {"content": "Unsaved: Mara climbed teh stairs."}).content.decode()
    assert 'data-offset="22" data-length="3" data-original="teh"' in html
    assert "climbed <mark>teh</mark> stairs." in html and 'data-replacement="the"' in html
    sent = next(r for r in languagetool.requests if r.path == "/v2/check").form()
    assert sent["text"] == "Unsaved: Mara climbed teh stairs."
    assert Chapter.objects.get(pk=chapter.pk).content == "Saved text without mistakes."  # checking changes nothing


def test_grammar_without_a_server_is_checked_offline_in_the_story_dialect(writer_client, user, settings):
    settings.LANGUAGETOOL_URL = ""
    story = make_story(user, generation_settings={"dialect": "en-GB"})
    chapter = make_chapter(story, content="Mara sailed into the harbour tomorow.")
    html = writer_client.post(reverse("chapter_grammar", args=[story.pk, chapter.pk])).content.decode()
    offset = chapter.content.index("tomorow")
    assert f'data-offset="{offset}" data-length="7" data-original="tomorow"' in html
    assert "harbour" not in html.split("<mark>")[1] and 'data-replacement="tomorrow"' in html
    assert "the built-in checker (Harper, offline) in British English" in html


def test_a_chapter_with_thousands_of_suggestions_shows_the_first_ones(writer_client, user, settings):
    settings.LANGUAGETOOL_URL = ""
    chapter = make_chapter(make_story(user), content="She saw teh boat. " * 250)
    html = writer_client.post(reverse("chapter_grammar", args=[chapter.story.pk, chapter.pk])).content.decode()
    assert html.count("data-grammar-match") == 200
    assert "The first 200 of 250 suggestions; apply or skip them and check again for the rest." in html


def test_a_retried_save_whose_answer_was_lost_is_not_a_conflict(writer_client, chapter):
    # The first save went through but its answer never reached the browser (a restart, a dropped connection);
    # the editor retries the same text from the version it had.
    assert save(writer_client, chapter, "Kept once.", 1, **HTMX).status_code == 200
    response = save(writer_client, chapter, "Kept once.", 1, **HTMX)
    assert response.status_code == 200 and 'value="2" data-base-version' in response.content.decode()
    chapter.refresh_from_db()
    assert chapter.version == 2 and chapter.revisions.count() == 2
    assert save(writer_client, chapter, "Something else.", 1, **HTMX).status_code == 409  # a real conflict still is


@pytest.mark.django_db(transaction=True)  # the save commits, so its jobs are queued inside the request
def test_an_autosave_asks_redis_four_times_once_its_jobs_wait(user, settings, redis_conn):
    from django.test import Client

    from core.queues import get_queue

    settings.REQUEST_TIMING = True
    chapter = make_chapter(make_story(user), content="Before.")
    browser = Client()  # built after the setting: its middleware measures
    browser.force_login(user)
    url = reverse("chapter_save", args=[chapter.story.pk, chapter.pk])
    trips = []
    for version, text in ((chapter.version, "One."), (chapter.version + 1, "One. Two.")):
        response = browser.post(url, {"title": "T", "content": text, "base_version": version},
                                headers={"HX-Request": "true"})  # fmt: skip
        assert response.status_code == 200
        trips.append(int(response["Server-Timing"].split('redis;desc="')[1].split()[0]))
    # The session, the rate limit's count, then whether each app's jobs already wait (one pipeline each).
    assert trips[1] == 4, trips
    queue = get_queue("background")
    for job in ("read_chapter_facts", "read_chapter_notes", "sync_chapter_memory", "thin_revisions"):
        assert queue.fetch_job(f"{job}-{chapter.pk}").get_status() in ("queued", "scheduled"), job
