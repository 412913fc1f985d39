"""Every story URL, walked from the URL map, for every role: what the role may do answers, everything else is a
404 exactly as for a stranger, and nothing a role may not do changes the story."""

import re

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from agents.models import Fact, IgnoredFinding, StoryPattern
from stories.models import Comment, Role, StoryMembership, Suggestion
from stories.sharing import COMMENT, GRANTS, OWN, READ, SUGGEST, WRITE
from tests.factories import cast, make_chapter, make_character, make_story, make_user, make_world_entry, relate

# What each story URL needs. Any story URL not listed is the owner's alone: a new page is private until it is
# opened here on purpose, and this test fails if its view lets anyone else in.
NEEDS = {
    READ: {"story_detail", "chapter_edit", "revision_list", "revision_detail", "review_panel", "chapter_changes",
           "story_leave", "story_cast:get", "story_relationships:get", "relationship_graph_svg", "api_story:get",
           "api_chapters:get", "api_chapter:get"},
    COMMENT: {"comment_add", "comment_resolve", "comment_delete"},
    SUGGEST: {"suggestion_add"},
    WRITE: {
        "chapter_create", "chapter_reorder", "chapter_save", "chapter_rename", "chapter_move", "revision_restore",
        "suggestion_decide", "generate", "chapter_grammar", "dictionary_add", "world_list", "world_edit",
        "world_delete", "lorebook_import", "lorebook_export", "story_bible", "story_search", "chapter_continuity",
        "fact_edit", "story_style", "story_scenes", "story_patterns", "pattern_dismiss", "finding_restore",
        "story_export", "story_export_markdown", "story_export_epub", "story_export_docx",
        "api_chapters:post", "api_chapter:patch", "api_world", "api_world_entry", "api_generate",
        "api_check_continuity", "api_story_patterns", "api_story_style", "api_story_scenes",
    },
}  # fmt: skip
# Allowed by the role, yet refused for this object: only a comment's author deletes it (404), and only its author
# or a writer resolves it (403); the fixture's comment is the owner's.
AUTHOR_ONLY = {"comment_delete", "comment_resolve"}
# Run apart from the walk: leaving ends the role the walk is testing.
APART = {"story_leave"}

STORY_ROUTE = re.compile(r"^(api/)?stories/<int:")
PARAM = re.compile(r"([\w.-]*)/?<(?:int|str|uuid):(\w+)>")
AFTER_SEGMENT = {"stories": "story", "chapters": "chapter", "world": "entry", "facts": "fact", "cast": "member",
                 "relationships": "relationship"}  # fmt: skip
BY_NAME = {"story_pk": "story", "chapter_pk": "chapter", "revision_pk": "revision", "invitation_pk": "invitation",
           "member_pk": "membership", "comment_pk": "comment", "suggestion_pk": "suggestion", "finding_pk": "ignored",
           "pattern_pk": "pattern", "character_pk": "character", "entry_pk": "entry"}  # fmt: skip


def story_routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.name

    return [(route, name) for route, name in walk(get_resolver().url_patterns) if STORY_ROUTE.match(route)]


def need_of(name, method):
    """What `method` on the URL named `name` needs: "name:method" in NEEDS, else "name", else the owner's."""
    for key in (f"{name}:{method}", name):
        found = next((need for need, names in NEEDS.items() if key in names), None)
        if found:
            return found
    return OWN


def url_for(route, objects):
    """The route with each parameter filled by the fixture's object of that kind: `pk` is named by the segment
    before it (stories/<pk> is a story, chapters/<pk> a chapter), the others by their names."""
    url = route
    for segment, param in PARAM.findall(route):
        kind = AFTER_SEGMENT[segment.rsplit("/", 1)[-1]] if param == "pk" else BY_NAME[param]
        url = url.replace(f"<int:{param}>", str(objects[kind]), 1)
    return "/" + url


@pytest.fixture
def shared(user):
    story = make_story(user, title="Shared book")
    chapter = make_chapter(story, content="Private words on the first page.")
    hero, rival = make_character(user, name="Hero"), make_character(user, name="Rival")
    member = cast(story, hero)
    cast(story, rival)
    people = {role: make_user(f"{role}@example.com") for role in Role.values}
    memberships = {
        role: StoryMembership.objects.create(story=story, user=person, role=role) for role, person in people.items()
    }
    invitation = story.invitations.create(email="later@example.com", role=Role.READER, invited_by=user)
    objects = {
        "story": story.pk,
        "chapter": chapter.pk,
        "revision": chapter.revisions.get().pk,
        "entry": make_world_entry(story).pk,
        "character": hero.pk,
        "member": member.pk,
        "relationship": relate(hero, rival).pk,
        "ignored": IgnoredFinding.objects.create(story=story, fingerprint="f1", kind="genre", message="Weak.").pk,
        "fact": Fact.objects.create(
            story=story, chapter=chapter, subject="Hero", attribute="age", value="forty", quote="Private words"
        ).pk,
        "pattern": StoryPattern.objects.create(story=story, key="chekhovs_gun", score=0.5, similarity=0.5).pk,
        "invitation": invitation.pk,
        "membership": memberships[Role.READER].pk,
        "comment": Comment.objects.create(chapter=chapter, author=user, quote="Private", body="Hm.").pk,
        "suggestion": Suggestion.objects.create(chapter=chapter, author=user, quote="Private", replacement="Open").pk,
    }
    return story, chapter, people, objects


FORM = {
    "title": "Hijacked", "content": "Hijacked text.", "base_version": 1, "body": "A note.", "quote": "Private",
    "prefix": "", "suffix": " words", "start": "0", "replacement": "Public", "decision": "reject", "role": "reader",
    "email": "x@example.com", "text": "x", "q": "x", "word": "Hijackword",
}  # fmt: skip


def client_for(person):
    client = Client()
    client.force_login(person)
    return client


def test_every_story_url_is_in_the_walk():
    names = {name for _, name in story_routes()}
    assert {"chapter_edit", "comment_add", "collaborators", "story_backup", "api_story", "generate"} <= names
    unknown = {key.split(":")[0] for key in set().union(*NEEDS.values())} - names
    assert not unknown, f"NEEDS lists URLs that no longer exist: {unknown}"


@pytest.mark.parametrize("role", [*Role.values, "stranger"])
def test_each_role_reaches_what_it_may_and_gets_404_elsewhere(role, shared, other_user):
    story, chapter, people, objects = shared
    person = other_user if role == "stranger" else people[role]
    client = client_for(person)
    allowed_needs = GRANTS.get(role, set())
    checked = 0
    for route, name in story_routes():
        if name in APART:
            continue
        url = url_for(route, objects)
        for method in ("get", "post", "patch"):
            allowed = need_of(name, method) in allowed_needs
            data = FORM if method != "patch" else '{"title": "Hijacked", "content": "Hijacked text."}'
            response = (
                getattr(client, method)(url, data, content_type="application/json")
                if method == "patch"
                else getattr(client, method)(url, FORM)
            )
            if response.status_code == 405:
                continue  # that method is not served to anyone
            checked += 1
            if allowed and name not in AUTHOR_ONLY:
                assert response.status_code not in (403, 404), f"{role}: {method.upper()} {url} ({name})"
            elif not allowed:
                assert response.status_code == 404, (
                    f"{role}: {method.upper()} {url} ({name}) gave {response.status_code}"
                )
    assert checked > 90  # every story page and action, GET and POST where served
    chapter.refresh_from_db()
    story.refresh_from_db()
    if WRITE not in allowed_needs:
        assert chapter.content == "Private words on the first page."
        assert chapter.title != "Hijacked" and story.chapters.count() == 1
    assert story.owner.email == "writer@example.com" and not story.deleted_at and not story.archived_at
    assert StoryMembership.objects.filter(story=story).count() == 3  # nobody removed anybody


@pytest.mark.parametrize("role", Role.values)
def test_a_member_can_leave_and_then_gets_404(role, shared):
    story, chapter, people, objects = shared
    client = client_for(people[role])
    assert client.get(f"/stories/{story.pk}/chapters/{chapter.pk}/").status_code == 200
    assert client.post(f"/stories/{story.pk}/leave/").status_code == 302
    assert client.get(f"/stories/{story.pk}/chapters/{chapter.pk}/").status_code == 404
    assert client.get(f"/stories/{story.pk}/").status_code == 404


def test_the_owner_still_reaches_every_page(shared, writer_client):
    story, chapter, people, objects = shared
    for route, name in story_routes():
        if name.startswith("api_") or name in APART:
            continue
        response = writer_client.get(url_for(route, objects))
        assert response.status_code in (200, 302, 405), f"{name}: {response.status_code}"
