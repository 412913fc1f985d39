from django.contrib import admin

from .models import GenerationHistory


@admin.register(GenerationHistory)
class GenerationHistoryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "agent_type", "story", "requested_by", "model_name", "user_rating"]
    list_filter = ["agent_type", "user_rating", "model_name", "created_at"]
    search_fields = ["story__title", "generated_content", "requested_by__email"]
    list_select_related = ["story", "requested_by"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "story", "chapter", "requested_by", "agent_type", "model_name", "input_context",
        "generated_content", "user_rating", "created_at", "updated_at",
    ]  # fmt: skip

    def has_add_permission(self, request):
        return False
