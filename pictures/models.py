import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from characters.models import Character

from .images import CleanImage, clean

PROMPT_MAX_CHARS = 4000


def picture_path(picture, filename: str) -> str:
    # One folder per owner: a whole account's pictures can be listed, backed up or removed together.
    return f"pictures/{picture.owner_id}/{filename}"


class PictureQuerySet(models.QuerySet):
    def for_user(self, user):
        """The user's pictures, except those of a story in the trash or hidden by moderators."""
        return self.filter(owner=user).exclude(story__deleted_at__isnull=False).exclude(story__is_flagged=True)

    def visible_to(self, user):
        """What the user may look at: their own pictures, and in the stories shared with them the illustrations
        and the cast's portraits (the owner's; a collaborator sees them, never changes them)."""
        shared = Q(memberships__user=user, deleted_at__isnull=True, is_flagged=False)
        stories = self.model._meta.get_field("story").related_model.objects.filter(shared).values("pk")
        in_shared = Q(story__in=stories) | Q(kind=Picture.Kind.PORTRAIT, character__appearances__story__in=stories)
        shown = self.filter(in_shared, status=Picture.Status.ACCEPTED).values("pk")  # not drafts or rejected ones
        return self.filter(pk__in=shown) | self.for_user(user)

    def portraits(self):
        return self.filter(kind=Picture.Kind.PORTRAIT)

    def scenes(self):
        return self.filter(kind=Picture.Kind.SCENE)

    def accepted(self):
        return self.filter(status=Picture.Status.ACCEPTED)

    def current_portraits(self, characters) -> dict:
        """Each character's portrait (the last one the writer accepted or uploaded), by character id, in one query."""
        ids = [c.pk for c in characters]
        rows = (
            self.portraits()
            .accepted()
            .filter(character_id__in=ids)
            .order_by("character_id", "-accepted_at")
            .distinct("character_id")
        )
        return {p.character_id: p for p in rows}

    def in_book(self, story) -> tuple[dict, list]:
        """What goes into the story's exports: accepted illustrations by chapter id (in the order accepted), and
        the cast's current portraits as (name, picture), in the cast's order."""
        scenes = {}
        for picture in self.filter(story=story).scenes().accepted().order_by("chapter__order", "accepted_at"):
            scenes.setdefault(picture.chapter_id, []).append(picture)
        cast = [member.character for member in story.cast.select_related("character")]
        current = self.current_portraits(cast)
        return scenes, [(c.name, current[c.pk]) for c in cast if c.pk in current]


class Picture(models.Model):
    """A character portrait or a scene illustration: the original (cleaned of metadata) and a WebP thumbnail.
    A generated picture is a proposal until the writer accepts it; an uploaded one is accepted as it arrives."""

    class Kind(models.TextChoices):
        PORTRAIT = "portrait", "Portrait"
        SCENE = "scene", "Scene illustration"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for the writer"
        ACCEPTED = "accepted", "Accepted"
        DISCARDED = "discarded", "Discarded"

    class Source(models.TextChoices):
        GENERATED = "generated", "Made by an image service"
        UPLOADED = "uploaded", "Uploaded by the writer"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pictures")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.GENERATED)
    character = models.ForeignKey(Character, null=True, blank=True, on_delete=models.CASCADE, related_name="pictures")
    story = models.ForeignKey("stories.Story", null=True, blank=True, on_delete=models.CASCADE, related_name="pictures")
    chapter = models.ForeignKey(
        "stories.Chapter", null=True, blank=True, on_delete=models.CASCADE, related_name="pictures"
    )
    caption = models.CharField(max_length=300, blank=True)
    prompt = models.TextField(blank=True, max_length=PROMPT_MAX_CHARS)
    negative_prompt = models.TextField(blank=True, max_length=PROMPT_MAX_CHARS)
    seed = models.BigIntegerField(null=True, blank=True)
    service = models.CharField(max_length=200, blank=True, help_text="The image service and model that made it")
    image = models.FileField(upload_to=picture_path, max_length=300)
    thumbnail = models.FileField(upload_to=picture_path, max_length=300)
    content_type = models.CharField(max_length=30)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = PictureQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="scene", story__isnull=False) | Q(kind="portrait", character__isnull=False),
                name="picture_scene_has_story_portrait_has_character",
            ),
        ]
        indexes = [
            # A character's current portrait: the last accepted one.
            models.Index(fields=["character", "kind", "status", "-accepted_at"], name="picture_character_idx"),
            # A story's gallery, newest first.
            models.Index(fields=["story", "kind", "-created_at"], name="picture_story_idx"),
            # The daily limit on images made per writer.
            models.Index(fields=["owner", "source", "created_at"], name="picture_owner_created_idx"),
        ]

    def __str__(self):
        return self.caption or f"{self.get_kind_display()} {self.pk}"

    def get_absolute_url(self):
        return reverse("picture_file", args=[self.pk, "image"])

    @property
    def thumbnail_url(self):
        return reverse("picture_file", args=[self.pk, "thumbnail"])

    @classmethod
    def store(cls, data: bytes, **fields) -> "Picture":
        """Clean the image (raises PictureRejected with a message for the writer) and save it with its thumbnail."""
        return cls.store_clean(clean(data), **fields)

    @classmethod
    def store_clean(cls, cleaned: CleanImage, **fields) -> "Picture":
        """Save an image already cleaned (by a reader in the sandbox) with its thumbnail."""
        picture = cls(content_type=cleaned.content_type, width=cleaned.width, height=cleaned.height, **fields)
        picture.image.save(f"{picture.pk}.{cleaned.extension}", ContentFile(cleaned.data), save=False)
        picture.thumbnail.save(f"{picture.pk}-thumb.webp", ContentFile(cleaned.thumbnail), save=False)
        if picture.status == cls.Status.ACCEPTED:
            picture.accepted_at = timezone.now()
        try:
            picture.save()
        except Exception:
            picture.delete_files()
            raise
        return picture

    def accept(self):
        """The writer keeps it: a portrait becomes the character's current one (and its seed the character's, so
        the next portrait is the same person), a scene joins the story's gallery and the book."""
        with transaction.atomic():
            Picture.objects.filter(pk=self.pk).update(status=self.Status.ACCEPTED, accepted_at=timezone.now())
            if self.kind == self.Kind.PORTRAIT and self.seed is not None:
                Character.objects.filter(pk=self.character_id).update(portrait_seed=self.seed)
        self.refresh_from_db()

    def discard(self):
        Picture.objects.filter(pk=self.pk).update(status=self.Status.DISCARDED)
        self.status = self.Status.DISCARDED

    def delete_files(self):
        for field in (self.image, self.thumbnail):
            if field.name:
                field.storage.delete(field.name)
