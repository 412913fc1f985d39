# The manuscript import model now belongs to the interop app (interop 0001), which keeps this table and its rows.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("stories", "0004_manuscript_splits"),
        ("interop", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ManuscriptImport")],
            database_operations=[],
        ),
    ]
