import uuid

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse


class UserManager(BaseUserManager):
    """Users sign in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = None
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=150, blank=True)
    # Notifications about shared stories (comments, replies, suggestions): in the app, and a daily e-mail digest.
    notify_in_app = models.BooleanField(default=True)
    notify_digest = models.BooleanField(default=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        constraints = [
            # Login looks users up case-insensitively; two accounts must not differ only by case.
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self):
        return self.display_name or self.email


def upload_path(upload, filename: str) -> str:
    return f"uploads/{upload.owner_id}/{upload.pk}"


class UploadQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(owner=user)

    def active(self):
        return self.filter(status__in=[Upload.Status.WAITING, Upload.Status.READING])


class Upload(models.Model):
    """A file a writer sent (a manuscript, a character card, a lorebook, a backup), kept until a worker has read
    it in a limited child process (core.sandbox); then what came of it, or why it could not be read.
    Each writer has at most one file waiting or being read, so one account costs the site one bounded job."""

    class Kind(models.TextChoices):
        MANUSCRIPT = "manuscript", "Manuscript"
        CARD = "card", "Character card"
        LOREBOOK = "lorebook", "Lorebook"
        BACKUP = "backup", "Backup"
        PICTURE = "picture", "Picture"

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for a worker"
        READING = "reading", "Being read"
        DONE = "done", "Read"
        FAILED = "failed", "Could not be read"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey("storyassistant.User", on_delete=models.CASCADE, related_name="uploads")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    file = models.FileField(upload_to=upload_path, max_length=300, blank=True)
    job = models.CharField(max_length=100)  # the RQ job that reads it, as a dotted path
    options = models.JSONField(default=dict, blank=True)  # what the writer chose with the file (its story)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    message = models.TextField(blank=True)  # for the writer: what was made, or why nothing was
    next_url = models.CharField(max_length=300, blank=True)  # where the writer goes once it is read
    announced = models.BooleanField(default=False)  # the message was shown to the writer once
    seconds = models.FloatField(null=True, blank=True)  # how long the reading took
    peak_memory = models.PositiveBigIntegerField(null=True, blank=True)  # the largest reader process, in bytes
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = UploadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One file waiting or being read per writer: a second upload meanwhile is refused (429).
            models.UniqueConstraint(
                fields=["owner"], condition=models.Q(status__in=["waiting", "reading"]), name="upload_one_at_a_time"
            ),
        ]
        indexes = [
            # The maintenance round looks for uploads whose reading stopped with its worker.
            models.Index(fields=["status", "started_at"], name="upload_status_started_idx"),
            # A writer's uploads in the last hour (UPLOADS_PER_HOUR).
            models.Index(fields=["owner", "created_at"], name="upload_owner_created_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.filename}"

    def get_absolute_url(self):
        return reverse("upload_status", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
