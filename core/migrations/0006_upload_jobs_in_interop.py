# The jobs that read manuscripts, cards, lorebooks and backups moved to interop/tasks.py: uploads still waiting
# name the new place, so the maintenance round can queue them again.

from django.db import migrations

MOVED = {
    "stories.tasks.read_manuscript": "interop.tasks.read_manuscript",
    "stories.tasks.read_lorebook": "interop.tasks.read_lorebook",
    "characters.tasks.read_card": "interop.tasks.read_card",
    "generation.tasks.read_backup": "interop.tasks.read_backup",
}


def rename(apps, schema_editor, moves=MOVED):
    Upload = apps.get_model("storyassistant", "Upload")
    for old, new in moves.items():
        Upload.objects.filter(job=old).update(job=new)


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, {new: old for old, new in MOVED.items()})


class Migration(migrations.Migration):
    dependencies = [("storyassistant", "0005_upload_peak_memory")]

    operations = [migrations.RunPython(rename, rename_back)]
