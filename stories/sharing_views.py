"""Collaborators: the owner invites by e-mail, changes roles, removes people and hands the story over; an invitee
accepts from the link (signing up first if they have no account); a member can leave."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.queues import enqueue_after_commit
from core.ratelimit import limit
from core.refusals import refusal

from .access import READ, get_story_for_user
from .live import revoke_access
from .sharing import ROLE_HELP, Role, StoryInvitation
from .tasks import send_invitation

MAX_COLLABORATORS = 50  # members and open invitations per story


def _role(value):
    return value if value in Role.values else None


@login_required
def collaborators(request, pk):
    story = get_story_for_user(request, pk)
    context = {
        "story": story,
        "section": "collaborators",
        "members": story.memberships.select_related("user").order_by("created_at"),
        "invitations": story.invitations.pending().order_by("-created_at"),
        "roles": [(role, role.label, ROLE_HELP[role]) for role in Role],
    }
    return render(request, "stories/collaborators.html", context)


@login_required
@require_POST
@limit("invite", "INVITES_PER_HOUR", 3600, "Too many invitations in an hour. Try again later.")
def invite(request, pk):
    story = get_story_for_user(request, pk)
    email, role = request.POST.get("email", "").strip()[:254], _role(request.POST.get("role"))
    try:
        validate_email(email)
    except ValidationError:
        return refusal(request, 400, "That is not an e-mail address.")
    if role is None:
        return refusal(request, 400, "Choose a role: co-author, editor or beta reader.")
    if email.lower() == story.owner.email.lower():
        return refusal(request, 400, "You own this story already.")
    if story.memberships.count() + story.invitations.pending().count() >= MAX_COLLABORATORS:
        return refusal(request, 400, f"A story can have at most {MAX_COLLABORATORS} collaborators and invitations.")
    # Inviting the same address again renews the open invitation (new link, new expiry, the new role).
    story.invitations.filter(email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    invitation = StoryInvitation.objects.create(story=story, email=email, role=role, invited_by=request.user)
    enqueue_after_commit(send_invitation, invitation.pk)
    messages.success(request, f"Invited {email} as {invitation.get_role_display().lower()}.")
    return redirect("collaborators", story.pk)


@login_required
@require_POST
def invitation_revoke(request, pk, invitation_pk):
    story = get_story_for_user(request, pk)
    story.invitations.filter(pk=invitation_pk, accepted_at__isnull=True).update(revoked_at=timezone.now())
    messages.success(request, "Invitation withdrawn; its link no longer works.")
    return redirect("collaborators", story.pk)


@login_required
@require_POST
def member_change(request, pk, member_pk):
    """Change a member's role, remove them, or hand them the story."""
    story = get_story_for_user(request, pk)
    member = get_object_or_404(story.memberships.select_related("user"), pk=member_pk)
    action = request.POST.get("action")
    if action == "remove":
        member.delete()
        revoke_access(story.pk, member.user_id)
        messages.success(request, f"{member.user} no longer has access to this story.")
    elif action == "hand_over":
        story.hand_over(member.user)
        revoke_access(story.pk, request.user.pk)  # the old owner's open pages reconnect as a co-author
        messages.success(request, f"{member.user} owns “{story.title}” now; you stay on as a co-author.")
        return redirect(story)
    elif _role(request.POST.get("role")):
        member.role = request.POST["role"]
        member.save(update_fields=["role"])
        revoke_access(story.pk, member.user_id)  # open pages reconnect with the new role's rights
        messages.success(request, f"{member.user} is now {member.get_role_display().lower()}.")
    else:
        return refusal(request, 400, "Choose a role, remove, or hand over.")
    return redirect("collaborators", story.pk)


@login_required
@require_POST
def leave(request, pk):
    story = get_story_for_user(request, pk, READ)
    story.memberships.filter(user=request.user).delete()
    revoke_access(story.pk, request.user.pk)
    messages.success(request, f"You left “{story.title}”.")
    return redirect("dashboard")


def invitation(request, token):
    """The e-mailed link. Anyone may see whose invitation it is; accepting needs an account (sign in or sign
    up, then back here)."""
    found = StoryInvitation.objects.select_related("story", "invited_by").filter(token=token[:64]).first()
    if found is None or not found.is_open or found.story.deleted_at:
        return refusal(request, 404, "This invitation has expired or was withdrawn. Ask for a new one.")
    if request.method == "POST" and request.user.is_authenticated:
        if found.story.owner_id == request.user.pk:
            return redirect(found.story)
        found.accept(request.user)
        messages.success(request, f"You joined “{found.story.title}” as {found.get_role_display().lower()}.")
        return redirect(found.story)
    here = reverse("invitation", args=[token])
    context = {
        "invitation": found,
        "role_help": ROLE_HELP[found.role],
        "login_url": f"{reverse('account_login')}?next={here}",
        "signup_url": f"{reverse('account_signup')}?next={here}",
    }
    return render(request, "stories/invitation.html", context)
