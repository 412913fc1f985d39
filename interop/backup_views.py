"""A story's full backup as a download, and restoring one (from this server or another) as a new story."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from core import uploads
from core.bodylimit import accepts_upload
from core.http import download
from core.models import Upload
from stories.access import get_story_for_user

from . import backup


@login_required
def story_backup(request, pk):
    story = get_story_for_user(request, pk)
    name = f"{slugify(story.title) or 'story'}.backup.zip"
    return download(lambda out: backup.write(story, out), name, "application/zip")


@login_required
def account_backup(request):
    """Every story of the writer's, and their library's characters that are in no story."""
    name = f"story-assistant-{timezone.now():%Y-%m-%d}.backup.zip"
    return download(lambda out: backup.write_account(request.user, out), name, "application/zip")


@accepts_upload("BACKUP_MAX_BYTES")
@login_required
@require_POST
def backup_restore(request):
    """A story's or a whole account's backup, restored by a worker (interop/backup.py) as new stories."""
    return uploads.accept(
        request, Upload.Kind.BACKUP, "backup", settings.BACKUP_MAX_BYTES, "backup", "a backup to restore (.zip)",
        "interop.tasks.read_backup", back=reverse("dashboard"),
    )  # fmt: skip
