from datetime import timedelta

from django.db import migrations, models
from django.utils.crypto import salted_hmac

# Django's own salt for session auth hashes (AbstractBaseUser.get_session_auth_hash), which historical models lack.
SESSION_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"


def bind_existing_tokens(apps, schema_editor):
    """Tokens made before expiry existed get the default lifetime from their creation and are bound to the
    password their owner has now."""
    ApiToken = apps.get_model("generation", "ApiToken")
    for token in ApiToken.objects.select_related("user"):
        token.expires_at = token.created_at + timedelta(days=90)
        token.password_hash = salted_hmac(SESSION_HASH_SALT, token.user.password, algorithm="sha256").hexdigest()
        token.save(update_fields=["expires_at", "password_hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0004_apitoken_generationtask_generationstep_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="generationtask",
            name="dispatches",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="password_hash",
            field=models.CharField(default="", max_length=128),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(bind_existing_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
    ]
