"""A story's full backup as a download, and restoring one (from this server or another) as a new story."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from stories.access import get_story_for_user
from storyassistant.bodylimit import accepts_upload
from storyassistant.http import download, uploaded
from storyassistant.middleware import refusal

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
    upload, refused = uploaded(request, "backup", settings.BACKUP_MAX_BYTES, "backup", "a backup to restore (.zip)")
    if refused:
        return refused
    try:
        stories = backup.restore_any(request.user, upload.read())
    except backup.BackupError as exc:
        return refusal(request, 400, f"{exc} Nothing was restored.")
    if len(stories) == 1:
        messages.success(
            request, f"Restored “{stories[0].title}” with its chapters, history, cast, world and pictures."
        )
        return redirect(stories[0])
    messages.success(request, f"Restored {len(stories)} stories and your library.")
    return redirect("dashboard")
