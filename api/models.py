"""API tokens: how programs sign in to the JSON API."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import constant_time_compare


class ApiToken(models.Model):
    """A bearer token for programs calling the JSON API; only a hash is stored. It expires, and it stops working
    when the writer's password changes (it is bound to the password like a session is) or a social account is
    connected to theirs."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    # The user's session auth hash (an HMAC of their password hash) when the token was made.
    password_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "generation_apitoken"  # the table it had when generation owned it

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str, days: int | None = None) -> tuple["ApiToken", str]:
        """Create a token valid for `days` (API_TOKEN_DAYS by default); the plain key is returned once and never
        stored."""
        key = "sa_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            key_hash=cls.hash(key),
            prefix=key[:8],
            password_hash=user.get_session_auth_hash(),
            expires_at=timezone.now() + timedelta(days=days or settings.API_TOKEN_DAYS),
        )
        return token, key

    @classmethod
    def authenticate(cls, key: str):
        token = (
            cls.objects.select_related("user")
            .filter(key_hash=cls.hash(key), user__is_active=True, expires_at__gt=timezone.now())
            .first()
        )
        if token is None or not constant_time_compare(token.password_hash, token.user.get_session_auth_hash()):
            return None
        cls.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user
