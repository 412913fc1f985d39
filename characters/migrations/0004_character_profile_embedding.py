import pgvector.django.vector
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("characters", "0003_character_portrait_seed"),
    ]

    operations = [
        migrations.AddField(
            model_name="character",
            name="profile_embedding",
            field=pgvector.django.vector.VectorField(blank=True, dimensions=384, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="character",
            name="profile_hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
    ]
