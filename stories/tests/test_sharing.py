"""Inviting people to a story, their roles, removing them and handing the story over."""

from datetime import timedelta

from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pictures.models import Picture
from stories.models import Role, StoryInvitation, StoryMembership
from stories.tasks import send_invitation
from tests.factories import cast, make_chapter, make_character, make_story, make_user, relate
from tests.image_servers import png


def signed_in(person):
    client = Client()
    client.force_login(person)
    return client


def test_owner_invites_by_email_and_the_invitee_joins_from_the_link(user, writer_client):
    story = make_story(user, title="The Lighthouse")
    chapter = make_chapter(story, content="Waves.")
    response = writer_client.post(reverse("invite", args=[story.pk]), {"email": "Ana@Example.com", "role": "editor"})
    assert response.status_code == 302
    invitation = StoryInvitation.objects.get(story=story)
    assert invitation.role == Role.EDITOR and invitation.is_open

    send_invitation(invitation.pk)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["Ana@Example.com"]
    assert "The Lighthouse" in mail.outbox[0].subject
    link = reverse("invitation", args=[invitation.token])
    assert link in mail.outbox[0].body

    # Without an account: the link offers to sign up, then come back.
    page = Client().get(link)
    assert page.status_code == 200 and "Create an account" in page.content.decode()
    assert f"next={link}" in page.content.decode()

    ana = make_user("ana@example.com")
    ana_client = signed_in(ana)
    assert ana_client.get(reverse("chapter_edit", args=[story.pk, chapter.pk])).status_code == 404
    joined = ana_client.post(link)
    assert joined.status_code == 302
    assert StoryMembership.objects.get(story=story, user=ana).role == Role.EDITOR
    assert ana_client.get(reverse("chapter_edit", args=[story.pk, chapter.pk])).status_code == 200
    dashboard = ana_client.get(reverse("dashboard")).content.decode()
    assert "Shared with me" in dashboard and "The Lighthouse" in dashboard
    # The link is spent.
    assert Client().get(link).status_code == 404


def test_the_invitation_mail_names_the_public_site_even_when_only_an_inner_host_is_allowed(user, settings):
    settings.SITE_URL, settings.ALLOWED_HOSTS = "https://books.example.org", ["10.0.0.5"]  # behind a proxy
    story = make_story(user, title="The Lighthouse")
    invitation = StoryInvitation.objects.create(story=story, email="ana@example.com", role="reader", invited_by=user)
    send_invitation(invitation.pk)
    link = "https://books.example.org" + reverse("invitation", args=[invitation.token])
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body


def test_expired_and_withdrawn_invitations_say_so(user, writer_client, other_user):
    story = make_story(user)
    old = StoryInvitation.objects.create(
        story=story, email="a@example.com", role=Role.READER, invited_by=user,
        expires_at=timezone.now() - timedelta(minutes=1),
    )  # fmt: skip
    gone = signed_in(other_user).post(reverse("invitation", args=[old.token]))
    assert gone.status_code == 404 and "expired" in gone.content.decode()
    fresh = StoryInvitation.objects.create(story=story, email="b@example.com", role=Role.READER, invited_by=user)
    writer_client.post(reverse("invitation_revoke", args=[story.pk, fresh.pk]))
    assert signed_in(other_user).post(reverse("invitation", args=[fresh.token])).status_code == 404
    assert not StoryMembership.objects.filter(story=story).exists()


def test_inviting_again_renews_the_open_invitation(user, writer_client):
    story = make_story(user)
    for role in ("reader", "co_author"):
        writer_client.post(reverse("invite", args=[story.pk]), {"email": "c@example.com", "role": role})
    assert list(story.invitations.pending().values_list("role", flat=True)) == ["co_author"]
    assert story.invitations.count() == 2


def test_bad_invitations_are_refused_with_a_reason(user, writer_client):
    story = make_story(user)
    bad = writer_client.post(reverse("invite", args=[story.pk]), {"email": "not-an-address", "role": "reader"})
    assert bad.status_code == 400 and "e-mail" in bad.content.decode()
    bad = writer_client.post(reverse("invite", args=[story.pk]), {"email": "x@example.com", "role": "owner"})
    assert bad.status_code == 400
    bad = writer_client.post(reverse("invite", args=[story.pk]), {"email": user.email, "role": "reader"})
    assert bad.status_code == 400
    assert not story.invitations.exists()


def test_accepting_keeps_the_higher_role(user, other_user):
    story = make_story(user)
    StoryMembership.objects.create(story=story, user=other_user, role=Role.CO_AUTHOR)
    invitation = StoryInvitation.objects.create(story=story, email="x@example.com", role=Role.READER, invited_by=user)
    assert invitation.accept(other_user).role == Role.CO_AUTHOR


def test_owner_changes_a_role_and_removes_someone_at_once(user, writer_client, other_user):
    story = make_story(user)
    chapter = make_chapter(story, content="Text.")
    member = StoryMembership.objects.create(story=story, user=other_user, role=Role.READER)
    theirs = signed_in(other_user)
    save = reverse("chapter_save", args=[story.pk, chapter.pk])
    assert theirs.post(save, {"title": "T", "content": "Mine now.", "base_version": chapter.version}).status_code == 404

    writer_client.post(reverse("member_change", args=[story.pk, member.pk]), {"role": "co_author"})
    assert theirs.post(save, {"title": "T", "content": "Mine now.", "base_version": chapter.version}).status_code == 302
    chapter.refresh_from_db()
    assert chapter.content == "Mine now." and chapter.revisions.first().author == other_user

    writer_client.post(reverse("member_change", args=[story.pk, member.pk]), {"action": "remove"})
    assert theirs.get(reverse("chapter_edit", args=[story.pk, chapter.pk])).status_code == 404
    assert "Shared with me" not in theirs.get(reverse("dashboard")).content.decode()


def test_handing_the_story_over_keeps_the_old_owner_as_co_author(user, writer_client, other_user):
    story = make_story(user)
    member = StoryMembership.objects.create(story=story, user=other_user, role=Role.EDITOR)
    writer_client.post(reverse("member_change", args=[story.pk, member.pk]), {"action": "hand_over"})
    story.refresh_from_db()
    assert story.owner == other_user
    assert StoryMembership.objects.get(story=story, user=user).role == Role.CO_AUTHOR
    assert not StoryMembership.objects.filter(story=story, user=other_user).exists()
    # Owner-only pages changed hands with it.
    assert writer_client.get(reverse("collaborators", args=[story.pk])).status_code == 404
    assert signed_in(other_user).get(reverse("collaborators", args=[story.pk])).status_code == 200


def test_members_see_only_what_their_role_opens(user, other_user):
    story = make_story(user, title="Shared")
    chapter = make_chapter(story, content="Text.")
    StoryMembership.objects.create(story=story, user=other_user, role=Role.READER)
    page = signed_in(other_user).get(reverse("chapter_edit", args=[story.pk, chapter.pk])).content.decode()
    assert "Beta reader" in page and "readonly" in page
    assert reverse("story_edit", args=[story.pk]) not in page  # no Settings tab
    assert f'hx-post="{reverse("chapter_save", args=[story.pk, chapter.pk])}"' not in page
    assert "data-autosave" not in page and "Check grammar" not in page


def test_collaborators_read_the_cast_and_its_relationships_and_see_its_portraits(user, other_user):
    story = make_story(user, title="Shared")
    mara = make_character(user, name="Mara", personality="Stubborn and kind.", goals="Keep the light.")
    tomas = make_character(user, name="Tomas")
    cast(story, mara, role="protagonist")
    cast(story, tomas)
    relate(mara, tomas, description="Old friends.")
    portrait = Picture.store(png(20, 20), owner=user, kind="portrait", character=mara, status="accepted",
                             source="uploaded", caption="Mara")  # fmt: skip
    draft = Picture.store(png(20, 20, colour=(9, 9, 9)), owner=user, kind="portrait", character=mara,
                          status="proposed", source="generated")  # fmt: skip
    elsewhere = Picture.store(png(20, 20), owner=user, kind="portrait", character=make_character(user, name="Else"),
                              status="accepted", source="uploaded")  # fmt: skip
    member = StoryMembership.objects.create(story=story, user=other_user, role=Role.READER)
    reader = signed_in(other_user)

    page = reader.get(reverse("story_cast", args=[story.pk])).content.decode()
    assert "data-cast-readonly" in page and "Stubborn and kind." in page and "Keep the light." in page
    assert reverse("character_detail", args=[mara.pk]) not in page and "Add to the cast" not in page
    assert 'name="importance"' not in page and "Remove" not in page
    relationships = reader.get(reverse("story_relationships", args=[story.pk])).content.decode()
    assert "Old friends." in relationships and "Add a relationship" not in relationships
    assert reader.get(reverse("relationship_graph_svg", args=[story.pk])).status_code == 200
    # The cast's accepted portrait shows; drafts and pictures of other stories' people do not.
    assert reader.get(portrait.thumbnail_url).status_code == 200 and portrait.thumbnail_url in page
    assert reader.get(draft.thumbnail_url).status_code == 404 and reader.get(elsewhere.thumbnail_url).status_code == 404
    # Changing the cast stays the owner's, and leaving the story ends the view.
    assert reader.post(reverse("story_cast", args=[story.pk]), {"character": tomas.pk}).status_code == 404
    member.delete()
    assert reader.get(portrait.thumbnail_url).status_code == 404
    assert reader.get(reverse("story_cast", args=[story.pk])).status_code == 404


def test_a_hidden_story_is_a_404_for_members(user, other_user):
    story = make_story(user)
    chapter = make_chapter(story)
    StoryMembership.objects.create(story=story, user=other_user, role=Role.CO_AUTHOR)
    story.flag("Spam.")
    assert signed_in(other_user).get(reverse("chapter_edit", args=[story.pk, chapter.pk])).status_code == 404
