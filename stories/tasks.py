"""Background jobs (RQ) of the writer's own data. Each takes an id and is safe to run twice or after the row is
gone."""

from .models import ChapterRevision


def thin_revisions(chapter_id: int):
    """Thin the chapter's older autosaves (ChapterRevision.objects.thin) after the writer saved it."""
    return ChapterRevision.objects.thin([chapter_id])
