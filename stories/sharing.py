"""Who else may work on a story: memberships with a role, and invitations by e-mail.

The owner stays `Story.owner`; everyone else holds one membership. What each role may do is `GRANTS`, read by
`stories.access` (the one place views, the API, exports and websockets ask).
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

# What a user may do to a story, from least to most.
READ, COMMENT, SUGGEST, WRITE, OWN = "read", "comment", "suggest", "write", "own"

INVITATION_DAYS = 14


class Role(models.TextChoices):
    CO_AUTHOR = "co_author", "Co-author"
    EDITOR = "editor", "Editor"
    READER = "reader", "Beta reader"


OWNER = "owner"

GRANTS = {
    OWNER: {READ, COMMENT, SUGGEST, WRITE, OWN},
    Role.CO_AUTHOR: {READ, COMMENT, SUGGEST, WRITE},  # writes and uses the AI team
    Role.EDITOR: {READ, COMMENT, SUGGEST},  # proposes changes, never edits the text directly
    Role.READER: {READ, COMMENT},
}

ROLE_HELP = {
    Role.CO_AUTHOR: "writes, edits and uses the AI team",
    Role.EDITOR: "suggests changes and comments; cannot change the text directly",
    Role.READER: "reads and comments",
}


def role_label(role: str) -> str:
    return "Owner" if role == OWNER else Role(role).label


class MembershipQuerySet(models.QuerySet):
    def shared_with(self, user):
        """The user's memberships of stories that are open (not in the trash, not hidden), newest first."""
        open_stories = self.filter(user=user, story__deleted_at__isnull=True, story__is_flagged=False)
        return open_stories.select_related("story__owner").order_by("-created_at")


class StoryMembership(models.Model):
    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            # One role per person per story; access lookups read at most this one row.
            models.UniqueConstraint(fields=["story", "user"], name="membership_one_per_story"),
        ]
        indexes = [
            # "Shared with me" on the dashboard: the user's memberships.
            models.Index(fields=["user", "-created_at"], name="membership_user_idx"),
        ]

    def __str__(self):
        return f"{self.user} as {self.get_role_display()} on {self.story}"


class InvitationQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


class StoryInvitation(models.Model):
    """An e-mailed link that makes its holder a member once they sign in (or sign up) and accept it."""

    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    token = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        constraints = [
            # One open invitation per address per story: inviting again renews it instead.
            models.UniqueConstraint(
                Lower("email"),
                "story",
                name="invitation_one_open_per_email",
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.email} to {self.story}"

    def save(self, *args, **kwargs):
        if not self.token:
            self.token = secrets.token_urlsafe(32)
        if not self.expires_at:
            self.expires_at = timezone.now() + timedelta(days=INVITATION_DAYS)
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()

    def accept(self, user) -> StoryMembership:
        """The signed-in holder of the link joins the story in the invited role (a member already keeps the
        higher of the two roles: an invitation never takes rights away)."""
        with transaction.atomic():
            invitation = StoryInvitation.objects.select_for_update().get(pk=self.pk)
            if not invitation.is_open:
                raise ValueError("This invitation has expired or was withdrawn.")
            membership, created = StoryMembership.objects.get_or_create(
                story_id=invitation.story_id,
                user=user,
                defaults={"role": invitation.role, "added_by": invitation.invited_by},
            )
            if not created and rank(invitation.role) > rank(membership.role):
                membership.role = invitation.role
                membership.save(update_fields=["role"])
            invitation.accepted_at, invitation.accepted_by = timezone.now(), user
            invitation.save(update_fields=["accepted_at", "accepted_by"])
        return membership


def rank(role: str) -> int:
    return len(GRANTS[role])
