"""Where a chapter written together lives between saves: its Yjs document as the updates that made it.

The browsers and the server exchange Yjs updates (stories.consumers); each is stored here as it arrives (a few
per second per writer, batched), and `stories.cowrite.settle` turns them into the chapter's text and a revision
once the typing pauses, then compacts them into one. `SharedDraft` remembers which version of the chapter the
document last matched, so a change made elsewhere (an accepted proposal or suggestion, a restored revision, the
API) is brought into the document instead of being overwritten.
"""

from django.conf import settings
from django.db import models


class SharedDraft(models.Model):
    chapter = models.OneToOneField(
        "stories.Chapter", on_delete=models.CASCADE, primary_key=True, related_name="shared_draft"
    )
    settled_version = models.PositiveIntegerField()  # the chapter's version the document last matched
    settled_text = models.TextField(blank=True)  # ... and its text then, to see what a change elsewhere did
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Shared draft of chapter {self.chapter_id}"


class DraftUpdate(models.Model):
    chapter = models.ForeignKey("stories.Chapter", on_delete=models.CASCADE, related_name="+")
    data = models.BinaryField()
    # Whose typing it was (the revision a settle makes is theirs); kept on the update so storing is one INSERT.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Loading a document: its updates in the order they were stored.
            models.Index(fields=["chapter", "id"], name="draftupdate_chapter_idx"),
        ]

    def __str__(self):
        return f"{len(self.data)} bytes for chapter {self.chapter_id}"
