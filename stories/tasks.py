"""Background jobs (RQ) of the writer's own data. Each takes an id and is safe to run twice or after the row is
gone."""

from datetime import timedelta
from urllib.parse import urlsplit

from allauth.account.adapter import get_adapter
from allauth.core.context import request_context
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Min
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from core.queues import enqueue_after_commit

from . import cowrite
from .feedback import Notification
from .models import ChapterRevision
from .sharing import StoryInvitation
from .together import SharedDraft

DIGEST_HOURS = 24
DIGESTS_PER_RUN = 500  # a maintenance pass mails at most this many; the rest go on the next pass
DIGEST_ITEMS = 50


def thin_revisions(chapter_id: int):
    """Thin the chapter's older autosaves (ChapterRevision.objects.thin) after the writer saved it."""
    return ChapterRevision.objects.thin([chapter_id])


def settle_shared_text(chapter_id: int):
    """The chapter written together becomes its text and a revision (stories.cowrite.settle)."""
    return cowrite.settle(chapter_id)


def bring_into_live_document(chapter_id: int):
    """The chapter changed outside its live editor: if it is being written together, settle it soon, which brings
    the change into the shared document (so the writers see it) without losing anyone's typing."""
    if SharedDraft.objects.filter(pk=chapter_id).exists():
        enqueue_after_commit(settle_shared_text, chapter_id)


class SiteRequest(HttpRequest):
    """A job's stand-in request for SITE_URL. Its host is the site's own setting, not a client's word, so it is not
    checked against ALLOWED_HOSTS (a site behind a proxy may not list its public name there)."""

    def __init__(self, site_url: str):
        super().__init__()
        site = urlsplit(site_url)
        self.site_host = site.netloc
        self.META = {"HTTP_HOST": site.netloc, "SERVER_NAME": site.hostname, "SERVER_PORT": str(site.port or 80)}

    def get_host(self):
        return self.site_host


def mail(template_prefix: str, to: str, context: dict):
    """Send through allauth's mail adapter (its subject prefix, sender and backend) from a job: allauth reads the
    site from a request, so the job stands one in for SITE_URL."""
    request = SiteRequest(settings.SITE_URL)
    request.user = AnonymousUser()
    with request_context(request):
        get_adapter(request).send_mail(template_prefix, to, context)


def send_invitation(invitation_id: int):
    """E-mail an invitation's link through allauth's mail adapter (its templates, its backend)."""
    invitation = StoryInvitation.objects.select_related("story", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or not invitation.is_open:
        return
    link = settings.SITE_URL.rstrip("/") + reverse("invitation", args=[invitation.token])
    context = {
        "invitation": invitation,
        "inviter": invitation.invited_by.display_name or invitation.invited_by.email,
        "role": invitation.get_role_display().lower(),
        "link": link,
    }
    mail("stories/email/invitation", invitation.email, context)


def settle_forgotten_drafts() -> int:
    return cowrite.settle_forgotten()


def send_notification_digests(now=None) -> int:
    """Mail each writer who wants a digest what they have not read, once their oldest unmailed notification is a
    day old (so at most one mail a day each); returns how many were sent. Run by the maintenance loop."""
    now = now or timezone.now()
    due = (
        Notification.objects.filter(read_at__isnull=True, emailed_at__isnull=True, user__notify_digest=True)
        .values("user")
        .annotate(oldest=Min("created_at"))
        .filter(oldest__lte=now - timedelta(hours=DIGEST_HOURS))
        .values_list("user", flat=True)[:DIGESTS_PER_RUN]
    )
    sent = 0
    for user_id in list(due):
        waiting = Notification.objects.filter(user_id=user_id, read_at__isnull=True, emailed_at__isnull=True)
        items = list(waiting.select_related("story", "user").order_by("created_at")[:DIGEST_ITEMS])
        if not items:
            continue
        context = {"items": items, "more": waiting.count() - len(items), "site": settings.SITE_URL.rstrip("/")}
        mail("stories/email/digest", items[0].user.email, context)
        waiting.update(emailed_at=now)
        sent += 1
    return sent
