from django.db import migrations, models

# Overlapping syncs could store one passage several times; keep the oldest copy of each.
REMOVE_DUPLICATES = """
DELETE FROM agents_memoryitem WHERE id IN (
  SELECT id FROM (
    SELECT id, row_number() OVER (
      PARTITION BY story_id, kind, chapter_id, character_id, world_entry_id, content_hash ORDER BY id
    ) AS copy
    FROM agents_memoryitem
  ) numbered
  WHERE copy > 1
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_ignored_findings"),
    ]

    operations = [
        migrations.RunSQL(REMOVE_DUPLICATES, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="memoryitem",
            constraint=models.UniqueConstraint(
                fields=("story", "kind", "chapter", "character", "world_entry", "content_hash"),
                name="memory_item_once_per_owner_thing",
                nulls_distinct=False,
            ),
        ),
    ]
