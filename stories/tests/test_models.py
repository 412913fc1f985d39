import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from stories.models import CHAPTER_MAX_CHARS, Chapter, ChapterConflict, ChapterRevision, EditRefused, Story, count_words
from tests.factories import make_chapter, make_story, make_user

pytestmark = pytest.mark.django_db


def immediate_constraints():
    # The order constraint is deferred (so reorders can swap); make it fire now instead of at commit.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_chapter_order_is_unique_per_story():
    story = make_story(make_user())
    make_chapter(story, order=1)
    immediate_constraints()
    with pytest.raises(IntegrityError), transaction.atomic():
        Chapter.objects.create(story=story, title="Duplicate", order=1)


def test_two_stories_can_each_have_a_chapter_one():
    owner = make_user()
    make_chapter(make_story(owner), order=1)
    make_chapter(make_story(owner), order=1)
    immediate_constraints()
    assert Chapter.objects.filter(order=1).count() == 2


def test_chapters_can_swap_places_inside_one_transaction():
    story = make_story(make_user())
    first, second = make_chapter(story, order=1), make_chapter(story, order=2)
    with transaction.atomic():
        Chapter.objects.filter(pk=first.pk).update(order=2)
        Chapter.objects.filter(pk=second.pk).update(order=1)
    immediate_constraints()
    assert list(story.chapters.values_list("pk", flat=True)) == [second.pk, first.pk]


@pytest.mark.parametrize(
    "text, words",
    [
        ("", 0),
        ("The brave knight fought the dragon.", 6),
        ("Don't stop — the well-known path!", 5),
        ("Ünïcödé wörds 🐉 count too", 4),
        ("[Mr. Hale]{.smallcaps} was [never]{.underline} *late*.", 5),  # the formatting's markup is no word
    ],
)
def test_count_words(text, words):
    assert count_words(text) == words


def test_word_count_follows_the_content():
    chapter = make_chapter(make_story(make_user()), content="One two three.")
    assert chapter.word_count == 3
    chapter.content = "One two three four five."
    chapter.save()
    chapter.refresh_from_db()
    assert chapter.word_count == 5


def test_every_content_save_writes_a_revision():
    author = make_user()
    chapter = make_chapter(make_story(author), content="First draft.")
    chapter.revision_author = author
    for text in ["Second draft.", "Third draft."]:
        chapter.content = text
        chapter.save()
    revisions = list(chapter.revisions.order_by("version"))
    assert [r.content for r in revisions] == ["First draft.", "Second draft.", "Third draft."]
    assert [r.version for r in revisions] == [1, 2, 3]
    assert revisions[-1].author == author
    assert revisions[-1].source == ChapterRevision.Source.WRITER


def test_saving_other_fields_keeps_the_version_and_writes_no_revision():
    chapter = make_chapter(make_story(make_user()), content="Text.")
    chapter.title = "A better title"
    chapter.save()
    chapter.status = Chapter.Status.FINAL
    chapter.save(update_fields=["status"])
    assert chapter.revisions.count() == 1
    assert Chapter.objects.get(pk=chapter.pk).version == 1


def test_a_stale_save_is_refused_and_the_stored_text_kept():
    chapter = make_chapter(make_story(make_user()), content="Original.")
    tab_one = Chapter.objects.get(pk=chapter.pk)
    tab_two = Chapter.objects.get(pk=chapter.pk)
    tab_one.save_content("Edited in tab one.", base_version=tab_one.version)
    with pytest.raises(ChapterConflict) as conflict:
        tab_two.save_content("Edited in tab two.", base_version=tab_two.version)
    assert conflict.value.chapter.content == "Edited in tab one."
    assert Chapter.objects.get(pk=chapter.pk).content == "Edited in tab one."


def test_restoring_a_revision_keeps_the_text_it_replaces():
    chapter = make_chapter(make_story(make_user()), content="Version one.")
    chapter = chapter.save_content("Version two.", base_version=chapter.version)
    first = chapter.revisions.get(version=1)
    restored = chapter.restore(first)
    assert restored.content == "Version one."
    assert list(restored.revisions.order_by("version").values_list("content", "source")) == [
        ("Version one.", "writer"),
        ("Version two.", "writer"),
        ("Version one.", "restore"),
    ]


def test_generation_settings_are_validated_before_saving():
    story = make_story(make_user(), generation_settings={"pov": "first", "target_words": 1500})
    assert story.generation_settings["tense"] == "past"  # defaults filled in
    assert story.settings.pov == "first"
    story.generation_settings = {"pov": "sideways"}
    with pytest.raises(ValidationError, match="pov"):
        story.save()
    story.generation_settings = {"target_words": 5}
    with pytest.raises(ValidationError, match="target_words"):
        story.save()


def test_json_columns_must_be_objects():
    with pytest.raises(ValidationError):
        make_story(make_user(), metadata=["not", "an", "object"])


def test_flagged_story_is_hidden_from_for_user_but_listed_for_its_owner():
    owner = make_user()
    story = make_story(owner)
    story.flag("Spam", by=None)
    assert not Story.objects.for_user(owner).exists()
    assert Story.objects.owned_by(owner).get().flag_reason == "Spam"


def test_flagging_needs_a_reason():
    story = make_story(make_user())
    with pytest.raises(ValidationError):
        story.flag("   ")


def test_a_chapter_inserted_after_another_makes_room_and_keeps_its_revision(user):
    story = make_story(user)
    first, second = make_chapter(story, title="One"), make_chapter(story, title="Two")
    agent = {"revision_source": ChapterRevision.Source.AGENT, "revision_note": "From the team"}
    inserted = story.insert_chapter("The tide turned.", after=first, title="Between", **agent)
    assert [c.title for c in story.chapters.order_by("order")] == ["One", "Between", "Two"]
    assert inserted.revisions.get().note == "From the team" and second.pk != inserted.pk
    assert story.insert_chapter("At the end.").title == "Chapter 4"


def test_a_passage_is_replaced_only_if_it_still_reads_as_it_did_and_the_chapter_stays_within_its_limit(user):
    chapter = make_chapter(make_story(user), content="The tide came in. Gulls cried.")
    assert chapter.with_passage_replaced(0, 17, "The tide came in.", "The sea rose.") == "The sea rose. Gulls cried."
    with pytest.raises(EditRefused, match="changed since"):
        chapter.with_passage_replaced(0, 17, "The tide went out.", "The sea rose.")
    with pytest.raises(EditRefused, match="the limit is"):
        chapter.with_passage_replaced(0, 0, "", "x" * CHAPTER_MAX_CHARS)


def test_text_goes_in_at_the_cursor_unless_the_text_before_it_moved(user):
    chapter = make_chapter(make_story(user), content="First.\n\nLast.")
    assert chapter.with_text_inserted("Middle.", 6, "First.", chapter.version) == "First.\n\nMiddle.\n\nLast."
    moved = chapter.with_text_inserted("Middle.", 6, "Something else.", chapter.version - 1)
    assert moved == "First.\n\nLast.\n\nMiddle."
