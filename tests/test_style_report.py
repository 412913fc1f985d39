"""The style report: figures measured from the text, kept per chapter version, recommendations against the
writer's own norm, server-drawn charts, chapters and stories like this one in style, for the owner only."""

from datetime import timedelta

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.discovery import report, style
from agents.models import StyleReading
from agents.tasks import measure_chapter_style
from core.queues import get_queue
from generation.models import GenerationTask
from tests.factories import make_chapter, make_story
from tests.llm_servers import serve_ollama

PLAIN = (
    "The harbour was quiet when Mara came down to the boats. She counted the nets and mended two of them. "
    "Tomas brought bread from the bakery, and they ate it on the wall while the gulls watched. “Storm tonight,” "
    "he said. “Then we sail tomorrow,” she said. The wind turned in the afternoon, and the first rain came in "
    "long grey lines across the water. They pulled the boats higher and tied them twice. "
)
ADVERBS = (
    "Mara walked slowly and carefully to the boats. She quietly counted the nets and angrily mended two of them. "
    "Tomas suddenly brought bread, and they hungrily ate it on the wall while the gulls watched silently. "
    "The wind abruptly turned, and the rain came heavily across the water. They desperately pulled the boats. "
)


def test_figures_are_measured_from_the_text():
    figures = style.measure(PLAIN)
    assert figures.words == len(style.WORD_RE.findall(PLAIN))
    assert figures.sentences == 7  # a line of dialogue and its "he said" are one sentence
    assert sum(figures.sentence_lengths) == 7
    assert figures.dialogue_share == round(6 / figures.words, 3)  # "Storm tonight", "Then we sail tomorrow"
    assert figures.point_of_view == "third" and figures.tense == "past"
    assert figures.adverbs_per_1000 == 0  # "early"-like words and names are not adverbs
    heavy = style.measure(ADVERBS)
    assert dict(heavy.top_adverbs)["slowly"] == 1 and heavy.adverbs_per_1000 > 100


def test_passives_filter_words_openings_and_slips_are_found():
    text = (
        "The door was opened by the guard. She saw the letter. She felt the cold. She heard the bell. "
        "I am tired of this, he thought. The ship is sinking now. The crew ran for the boats."
    )
    figures = style.measure(text)
    assert figures.passive_per_100_sentences > 0
    assert figures.filter_words_per_1000 > 100
    assert figures.repeated_openings == ["She"]
    assert figures.tense == "past" and any("is sinking" in s for s in figures.tense_slips)


def test_first_person_narration_is_told_apart_from_dialogue():
    figures = style.measure("I walked to the harbour. “He is late,” she said to me. I waited by the wall. " * 5)
    assert figures.point_of_view == "first"
    assert figures.pov_slips == []


@settings(max_examples=80, deadline=timedelta(seconds=2))
@given(st.text(max_size=20_000))
def test_any_text_is_measured_quickly_and_consistently(text):
    figures = style.measure(text)
    assert sum(figures.sentence_lengths) == figures.sentences
    assert 0 <= figures.dialogue_share <= 1


def chapters_of(story, *texts):
    return [make_chapter(story, content=text) for text in texts]


@pytest.mark.django_db
def test_a_chapter_is_measured_once_per_version_and_its_save_queues_a_measurement(
    user, redis_conn, django_capture_on_commit_callbacks
):
    story = make_story(user)
    with django_capture_on_commit_callbacks(execute=True):
        chapter = make_chapter(story, content=PLAIN)
    assert f"{measure_chapter_style.__name__}-{chapter.pk}" in get_queue("background").job_ids
    measure_chapter_style(chapter.pk)
    reading = StyleReading.objects.get(chapter=chapter)
    assert reading.version == chapter.version and reading.owner_id == user.pk
    measured, pending = report.figures_for(story)
    assert pending == [] and measured[0][1] == reading.figures
    assert StyleReading.objects.get(chapter=chapter).measured_at == reading.measured_at  # not measured again


@pytest.mark.django_db
def test_the_report_says_what_stands_out_against_the_writers_own_norm(writer_client, user):
    earlier = make_story(user)
    chapters_of(earlier, *[PLAIN * 3] * 4)
    story = make_story(user)
    chapters_of(story, PLAIN * 3, ADVERBS * 4)
    for chapter in [*earlier.chapters.all(), *story.chapters.all()]:
        measure_chapter_style(chapter.pk)
    page = writer_client.get(reverse("story_style", args=[story.pk]))
    html = page.content.decode()
    said = [r["text"] for r in page.context["recommendations"]]
    adverb_chapter = story.chapters.get(order=2)
    assert any(t.startswith(f"Chapter 2 “{adverb_chapter.title}” uses adverbs where you usually use almost none")
               for t in said)  # fmt: skip
    assert not any(t.startswith("Chapter 1 ") for t in said)
    assert html.count('<svg class="chart"') == 2 and 'data-bar="≤10"' in html
    assert "Most used: " in html


@pytest.mark.django_db
def test_like_this_in_style_lists_only_the_writers_own_chapters_and_stories(writer_client, user, other_user):
    story, similar, different = make_story(user), make_story(user, title="Similar one"), make_story(user)
    chapters_of(story, PLAIN * 4)
    chapters_of(similar, PLAIN * 4 + "Another day came. ")
    chapters_of(different, ADVERBS * 4)
    theirs = make_story(other_user, title="Someone else's")
    chapters_of(theirs, PLAIN * 4)
    for chapter in [*story.chapters.all(), *similar.chapters.all(), *different.chapters.all(), *theirs.chapters.all()]:
        measure_chapter_style(chapter.pk)
    chapter = story.chapters.get()
    page = writer_client.get(reverse("story_style", args=[story.pk]), {"chapter": chapter.pk})
    stories = [s["story"] for s in page.context["similar_stories"]]
    assert stories[0] == similar and theirs not in stories and story not in stories
    similar.move_to_trash()
    again = writer_client.get(reverse("story_style", args=[story.pk]), {"chapter": chapter.pk}).context
    assert similar not in [s["story"] for s in again["similar_stories"]]
    assert {s["story"].owner_id for s in page.context["similar_chapters"]} == {user.pk}
    assert "Someone else" not in page.content.decode()


@pytest.mark.django_db
def test_the_style_report_is_private_and_long_chapters_are_measured_in_the_background(
    writer_client, other_client, user, other_user, settings, redis_conn, django_capture_on_commit_callbacks
):
    settings.STYLE_MEASURE_WORDS = 10
    story = make_story(user)
    chapter = make_chapter(story, content=PLAIN * 10)
    url = reverse("story_style", args=[story.pk])
    assert other_client.get(url).status_code == 404
    theirs = make_chapter(make_story(other_user), content=PLAIN)
    assert writer_client.get(url, {"chapter": theirs.pk}).status_code == 404
    assert writer_client.get(url, {"chapter": "x"}).status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        page = writer_client.get(url)
    assert page.context["pending"] == [chapter] and "still being measured" in page.content.decode()
    assert f"{measure_chapter_style.__name__}-{chapter.pk}" in get_queue("background").job_ids


SLIPPING = PLAIN * 3 + "The ship is sinking now and nobody comes. " + PLAIN


@pytest.mark.django_db
def test_a_flagged_sentence_can_go_to_the_ai_team_as_a_rewrite_with_a_capable_model(
    writer_client, user, local_server, settings, redis_conn
):
    story = make_story(user)
    chapter = make_chapter(story, content=SLIPPING)
    url = reverse("story_style", args=[story.pk])
    page = writer_client.get(url).content.decode()
    start = SLIPPING.index("The ship is sinking")
    assert f"?at={start}&amp;end={start + len('The ship is sinking now and nobody comes.')}" in page
    assert "data-propose-rewrite" not in page and "cannot rewrite to a note" in page  # the built-in model

    serve_ollama(local_server)
    settings.LLM_PROVIDER, settings.OLLAMA_HOSTS = "ollama", [local_server.url]
    page = writer_client.get(url).content.decode()
    assert "data-propose-rewrite" in page and 'name="note" value="Keep the narration in the past tense' in page
    response = writer_client.post(reverse("generate", args=[story.pk]), {
        "mode": "rewrite", "chapter": chapter.pk, "selection_start": start,
        "selection_end": start + len("The ship is sinking now and nobody comes."),
        "note": "Keep the narration in the past tense, as in the rest of the chapter.",
    })  # fmt: skip
    task = GenerationTask.objects.get(story=story)
    assert response.status_code == 302 and task.mode == "rewrite"
    assert task.request["selection"]["text"] == "The ship is sinking now and nobody comes."
    assert "past tense" in task.request["note"]
