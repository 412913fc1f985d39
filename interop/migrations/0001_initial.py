# The manuscript import model comes from the stories app with its table (stories_manuscriptimport) and its rows:
# only Django's idea of which app owns it changes.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("stories", "0004_manuscript_splits"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ManuscriptImport",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("filename", models.CharField(max_length=255)),
                        ("source_format", models.CharField(max_length=10)),
                        ("text", models.TextField()),
                        ("word_count", models.PositiveIntegerField(default=0)),
                        ("splits", models.JSONField(blank=True, default=dict)),
                        ("requested", models.JSONField(blank=True, default=dict)),
                        ("error", models.TextField(blank=True)),
                        ("chapters_created", models.PositiveIntegerField(default=0)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("imported_at", models.DateTimeField(blank=True, null=True)),
                        ("owner", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="manuscript_imports", to=settings.AUTH_USER_MODEL)),
                        ("story", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="imports", to="stories.story")),
                    ],
                    options={"ordering": ["-created_at"], "db_table": "stories_manuscriptimport"},
                ),
            ],
            database_operations=[],
        ),
    ]
