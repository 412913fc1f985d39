import time

import pytest
from django.urls import reverse

from agents.memory import store as memory
from agents.models import MemoryItem
from tests.factories import make_chapter, make_story


def wait_for(condition, timeout=90):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def test_saving_a_chapter_syncs_its_memory_through_a_real_worker(rq_worker, user):
    story = make_story(user)
    chapter = make_chapter(story, content="The brave knight fought the dragon.\n\nThen he slept for a week.")
    assert wait_for(lambda: MemoryItem.objects.filter(chapter=chapter).count() == 1)

    chapter.save_content("The brave knight fought the dragon.", base_version=chapter.version)
    assert wait_for(lambda: list(MemoryItem.objects.filter(chapter=chapter).values_list("text", flat=True))
                    == ["The brave knight fought the dragon."])  # fmt: skip


@pytest.fixture
def searchable(db, user, redis_conn):
    story = make_story(user, title="Harbour")
    chapter = make_chapter(
        story, content="Intro line.\n\n" + "filler " * 150 + "\n\nThe brave knight fought the dragon."
    )
    memory.sync_chapter(chapter)
    return story, chapter


def test_the_search_page_finds_by_meaning_and_links_into_the_editor(writer_client, searchable):
    story, chapter = searchable
    response = writer_client.get(reverse("story_search", args=[story.pk]), {"q": "courageous warrior battled serpent"})
    html = response.content.decode()
    results = response.context["results"]
    assert "The brave knight fought the dragon." in results[0].text
    start = chapter.content.index("The brave knight")
    assert f"?at={start}&amp;end={len(chapter.content)}" in html
    assert "score" not in html.split('id="search-results"', 1)[1]  # a ranking number means nothing to a writer
    editor = writer_client.get(f"{chapter.get_absolute_url()}?at={start}&end={len(chapter.content)}")
    assert f'data-select-start="{start}"' in editor.content.decode()


def test_searching_across_all_my_stories(writer_client, searchable, user):
    other = make_story(user, title="Another of mine")
    memory.sync_chapter(make_chapter(other, content="A dragon slept under the mountain."))
    response = writer_client.get(reverse("search"), {"q": "dragon"})
    assert {item.story.title for item in response.context["results"]} == {"Harbour", "Another of mine"}


def test_htmx_search_returns_only_the_results(writer_client, searchable):
    story, _ = searchable
    response = writer_client.get(reverse("story_search", args=[story.pk]), {"q": "dragon"}, HTTP_HX_REQUEST="true")
    assert response.content.decode().lstrip().startswith('<div id="search-results"')


def test_another_user_finds_nothing_of_mine(other_client, searchable):
    story, _ = searchable
    assert other_client.get(reverse("story_search", args=[story.pk]), {"q": "dragon"}).status_code == 404
    assert other_client.get(reverse("search"), {"q": "dragon"}).context["results"] == []


def test_an_empty_query_shows_the_form_only(writer_client, searchable):
    response = writer_client.get(reverse("search"))
    assert response.status_code == 200 and response.context["results"] == []


def test_deleted_stories_are_not_searched(writer_client, searchable, user):
    story, _ = searchable
    story.move_to_trash()
    assert writer_client.get(reverse("search"), {"q": "dragon"}).context["results"] == []
