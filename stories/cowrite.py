"""A chapter written together: its Yjs document on the server (pycrdt), loaded from and stored as updates.

The document has one Y.Text named TEXT (the browser binds it to the editor). It is made once from the chapter's
text, by whichever process asks first; after that only updates change it. `settle()` is the one place the
document becomes the chapter's text: a normal save (a revision, memory sync, checks), after bringing in any change
made to the chapter elsewhere as a Yjs transaction, so neither that change nor anyone's typing is lost.
"""

import logging
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from pycrdt import Doc, Text, merge_updates
from redis.exceptions import RedisError

from .anchors import CONTEXT_CHARS, HERE, Anchor, locate
from .models import Chapter, ChapterConflict, ChapterRevision
from .text import CHAPTER_MAX_CHARS
from .together import DraftUpdate, SharedDraft

logger = logging.getLogger(__name__)

TEXT = "text"  # the Y.Text's name, as static/js/cowrite.src.js asks for it
MERGE_NOTE = "Written together over a change made elsewhere to the same passage (that version is the one before)"


def draft_group(chapter_id) -> str:
    return f"draft.{chapter_id}"


def document(updates) -> Doc:
    doc = Doc()
    for update in updates:
        doc.apply_update(bytes(update))
    return doc


def text_of(doc: Doc) -> str:
    return str(doc.get(TEXT, type=Text))


def _byte_offset(text: str, index: int) -> int:
    """pycrdt counts a Y.Text's positions in UTF-8 bytes; Python counts characters."""
    return len(text[:index].encode("utf-8"))


def open_draft(chapter_id: int) -> bytes:
    """The chapter's document as one update (all that is stored), made from its text the first time."""
    if not SharedDraft.objects.filter(pk=chapter_id).exists():
        with transaction.atomic():
            chapter = Chapter.objects.select_for_update().only("content", "version").get(pk=chapter_id)
            if not SharedDraft.objects.filter(pk=chapter_id).exists():  # another process may have made it
                doc = Doc()
                doc.get(TEXT, type=Text).insert(0, chapter.content)
                SharedDraft.objects.create(
                    chapter_id=chapter_id, settled_version=chapter.version, settled_text=chapter.content
                )
                DraftUpdate.objects.create(chapter_id=chapter_id, data=doc.get_update())
    rows = DraftUpdate.objects.filter(chapter_id=chapter_id).order_by("id").values_list("data", flat=True)
    return merge_updates(*[bytes(row) for row in rows])


def store_update(chapter_id: int, update: bytes, writer_id=None):
    """Keep updates that arrived from the browsers (already sent on to the others)."""
    DraftUpdate.objects.create(chapter_id=chapter_id, data=update, author_id=writer_id)


def settle_forgotten(quiet_seconds: int = 10, limit: int = 100) -> int:
    """Settle drafts with updates stored after their last settle and quiet since (their web process was killed
    before it settled them). Run by the maintenance loop."""
    cutoff = timezone.now() - timedelta(seconds=quiet_seconds)
    newer = DraftUpdate.objects.filter(chapter_id=OuterRef("pk"), created_at__gt=OuterRef("updated_at"))
    forgotten = SharedDraft.objects.filter(Exists(newer), updated_at__lt=cutoff).values_list("pk", flat=True)
    done = 0
    for chapter_id in list(forgotten[:limit]):
        settle(chapter_id)
        done += 1
    return done


def story_group(story_id) -> str:
    return f"story.{story_id}"


def tell_review(chapter_id: int, by):
    """The chapter's comments or suggestions changed: its open pages reload their review panel (all but the
    page of `by`, who made the change and sees it already). Best effort: a page that misses it shows the change
    at its next reload."""
    try:
        async_to_sync(get_channel_layer("drafts").group_send)(
            draft_group(chapter_id), {"type": "draft.review", "by": str(by), "sender": ""}
        )
    except (RedisError, OSError):
        logger.warning("could not tell chapter %s's open pages that its review changed", chapter_id, exc_info=True)


def broadcast(chapter_id: int, update: bytes):
    """Send an update made on the server to every open editor of the chapter."""
    layer = get_channel_layer("drafts")
    async_to_sync(layer.group_send)(draft_group(chapter_id), {"type": "draft.update", "data": update, "sender": ""})


def _bring_in(doc: Doc, before: str, after: str) -> bool:
    """Apply the change from `before` to `after` (made to the chapter elsewhere) to the document, where that
    passage is now. False if the passage cannot be found (it was rewritten meanwhile)."""
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < min(len(before), len(after)) - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    old, new = before[head : len(before) - tail], after[head : len(after) - tail]
    current = text_of(doc)
    prefix, suffix = before[max(0, head - CONTEXT_CHARS) : head], before[len(before) - tail :][:CONTEXT_CHARS]
    if old:
        found = locate(current, Anchor(old, prefix, suffix, head))
        if found.state != HERE:
            return False
        start, end = found.start, found.end
    else:  # a pure insertion: between its context, as it was
        at = current.find(prefix + suffix, max(0, head - len(prefix) - 5000)) if prefix or suffix else 0
        if at == -1:
            at = current.find(prefix + suffix)
        if at == -1:
            return False
        start = end = at + len(prefix)
    ytext = doc.get(TEXT, type=Text)
    with doc.transaction():
        if end > start:
            del ytext[_byte_offset(current, start) : _byte_offset(current, end)]
        if new:
            ytext.insert(_byte_offset(current, start), new)
    return True


def settle(chapter_id: int, unless_within: float = 0) -> bool | None:
    """Make the document the chapter's text (a save with a revision), bringing in first any change made to the
    chapter elsewhere; then compact the stored updates into one. Returns whether the text changed, or None when
    it was settled less than `unless_within` seconds ago (each editor's connection asks; once is enough)."""
    updates_made = []
    with transaction.atomic():
        draft = SharedDraft.objects.select_for_update().filter(pk=chapter_id).first()
        if draft is None:
            return False
        if unless_within and draft.updated_at > timezone.now() - timedelta(seconds=unless_within):
            return None
        chapter = Chapter.objects.select_for_update().only("story_id", "title", "content", "version").get(pk=chapter_id)
        rows = list(
            DraftUpdate.objects.filter(chapter_id=chapter_id).order_by("id").values_list("id", "data", "author")
        )
        doc = document(data for _, data, _ in rows)
        writer = next((author for _, _, author in reversed(rows) if author), None)
        note = ""
        if chapter.version != draft.settled_version and chapter.content != draft.settled_text:
            state = doc.get_state()
            if _bring_in(doc, draft.settled_text, chapter.content):
                updates_made.append(doc.get_update(state))
            else:  # both changed the same passage: the document wins; the other text is its own revision
                note = MERGE_NOTE
        text = text_of(doc)
        changed = text != chapter.content
        if changed and len(text) <= CHAPTER_MAX_CHARS:
            try:
                chapter = chapter.save_content(
                    text, base_version=chapter.version, author=get_user_model()(pk=writer) if writer else None,
                    source=ChapterRevision.Source.TOGETHER, note=note,
                )  # fmt: skip
            except ChapterConflict:  # cannot happen under the row lock; kept so a save is never silently lost
                logger.exception("chapter %s changed under its lock", chapter_id)
                return False
        elif changed:
            logger.warning("chapter %s written together is over the length limit; not saved", chapter_id)
        draft.settled_version, draft.settled_text = chapter.version, chapter.content
        draft.save(update_fields=["settled_version", "settled_text", "updated_at"])
        if rows and (len(rows) > 1 or updates_made):
            DraftUpdate.objects.filter(chapter_id=chapter_id, id__lte=rows[-1][0]).delete()
            DraftUpdate.objects.create(chapter_id=chapter_id, data=doc.get_update(), author_id=writer)
    for update in updates_made:  # after commit: the editors receive it once it is stored
        broadcast(chapter_id, update)
    return changed
