from django.contrib import admin

from .models import GenerationStep, GenerationTask


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
    list_display = [
        "created_at", "user", "story", "mode", "status", "progress", "current_agent", "attempts", "model_name",
        "user_rating",
    ]  # fmt: skip
    list_filter = ["status", "mode", "proposal_status", "user_rating", "model_name", "created_at"]
    search_fields = ["story__title", "user__email", "error"]
    list_select_related = ["user", "story"]
    readonly_fields = [f.name for f in GenerationTask._meta.fields]
    inlines = [StepInline]

    def has_add_permission(self, request):
        return False
