from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    """pgvector holds story memory inside PostgreSQL; enabled here so every later migration can use it."""

    dependencies = [("storyassistant", "0001_initial")]

    operations = [VectorExtension()]
