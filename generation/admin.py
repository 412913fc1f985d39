from django.contrib import admin

from .models import ApiToken, GenerationHistory, GenerationStep, GenerationTask


@admin.register(GenerationHistory)
class GenerationHistoryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "agent_type", "story", "requested_by", "model_name", "user_rating"]
    list_filter = ["agent_type", "user_rating", "model_name", "created_at"]
    search_fields = ["story__title", "generated_content", "requested_by__email"]
    list_select_related = ["story", "requested_by"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "story", "chapter", "task", "requested_by", "agent_type", "model_name", "input_context",
        "generated_content", "user_rating", "created_at", "updated_at",
    ]  # fmt: skip

    def has_add_permission(self, request):
        return False


class StepInline(admin.TabularInline):
    model = GenerationStep
    fields = ["key", "agent", "status", "attempt", "duration_ms", "model", "completion_tokens", "reason", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(GenerationTask)
class GenerationTaskAdmin(admin.ModelAdmin):
    change_list_template = "admin/generation/generationtask/change_list.html"
    list_display = ["created_at", "user", "story", "mode", "status", "progress", "current_agent", "attempts"]
    list_filter = ["status", "mode", "proposal_status", "created_at"]
    search_fields = ["story__title", "user__email", "error"]
    list_select_related = ["user", "story"]
    readonly_fields = [f.name for f in GenerationTask._meta.fields]
    inlines = [StepInline]

    def has_add_permission(self, request):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    search_fields = ["name", "user__email"]
    readonly_fields = ["key_hash", "prefix", "created_at", "last_used_at"]
