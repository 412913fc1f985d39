from django.db import migrations, models


def keep_ratings(apps, schema_editor):
    """Each task's rating and writing model move onto the task; history rows whose task was deleted had nothing
    left to rate."""
    GenerationHistory = apps.get_model("generation", "GenerationHistory")
    GenerationTask = apps.get_model("generation", "GenerationTask")
    for row in GenerationHistory.objects.filter(task__isnull=False).values("task_id", "user_rating", "model_name"):
        GenerationTask.objects.filter(pk=row["task_id"]).update(
            user_rating=row["user_rating"], model_name=row["model_name"]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0005_task_dispatches_token_expiry"),
    ]

    operations = [
        migrations.AddField(
            model_name="generationtask",
            name="model_name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="generationtask",
            name="user_rating",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="generationtask",
            constraint=models.CheckConstraint(
                condition=models.Q(("user_rating__isnull", True), models.Q(("user_rating__gte", 1), ("user_rating__lte", 5)), _connector="OR"),
                name="generationtask_rating_1_5",
            ),
        ),
        migrations.RunPython(keep_ratings, migrations.RunPython.noop),
        migrations.DeleteModel(name="GenerationHistory"),
    ]
