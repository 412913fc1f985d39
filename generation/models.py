from django.conf import settings
from django.db import models
from django.db.models import Q


class AgentType(models.TextChoices):
    CREATIVE_DIRECTOR = "creative_director", "Creative director"
    WORLD_BUILDING = "world_building", "World building"
    CONTINUATION_CONTEXT = "continuation_context", "Continuation context"
    NARRATIVE_INTELLIGENCE = "narrative_intelligence", "Narrative writer"
    QUALITY_ASSURANCE = "quality_assurance", "Quality assurance"
    VISUAL_STORYTELLING = "visual_storytelling", "Visual storytelling"


class GenerationHistoryQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(story__owner=user)


class GenerationHistory(models.Model):
    """Everything an agent produced for a story, with the inputs it saw and the writer's rating."""

    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="generation_history")
    chapter = models.ForeignKey(
        "stories.Chapter", null=True, blank=True, on_delete=models.SET_NULL, related_name="generation_history"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent_type = models.CharField(max_length=30, choices=AgentType.choices)
    model_name = models.CharField(max_length=200, blank=True)
    input_context = models.JSONField(default=dict, blank=True)
    generated_content = models.TextField(blank=True)
    user_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GenerationHistoryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "generation history"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user_rating__isnull=True) | Q(user_rating__gte=1, user_rating__lte=5),
                name="generationhistory_rating_1_5",
            ),
        ]
        indexes = [
            # A story's generation history, newest first.
            models.Index(fields=["story", "-created_at"], name="genhistory_story_created_idx"),
        ]

    def __str__(self):
        return f"{self.get_agent_type_display()} for {self.story} at {self.created_at:%Y-%m-%d %H:%M}"
