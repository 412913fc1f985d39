# API tokens now belong to the api app (api 0001), which keeps this table and its rows.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0008_generationtask_picture_alter_generationtask_mode"),
        ("api", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")],
            database_operations=[],
        ),
    ]
