from django.contrib import admin

from agents.models import Fact, IgnoredFinding, MemoryItem, ModelProfile


@admin.register(MemoryItem)
class MemoryItemAdmin(admin.ModelAdmin):
    list_display = ("kind", "short_text", "story", "chapter", "owner", "updated_at")
    list_filter = ("kind",)
    search_fields = ("text", "story__title", "owner__email")
    raw_id_fields = ("owner", "story", "chapter", "character", "world_entry")
    exclude = ("embedding",)  # 384 numbers are no use to a moderator
    readonly_fields = ("content_hash",)

    @admin.display(description="text")
    def short_text(self, item):
        return item.text[:80]


@admin.register(IgnoredFinding)
class IgnoredFindingAdmin(admin.ModelAdmin):
    list_display = ("kind", "message", "story", "created_at")
    list_filter = ("kind",)
    search_fields = ("message", "story__title")
    raw_id_fields = ("story",)


@admin.register(Fact)
class FactAdmin(admin.ModelAdmin):
    list_display = ("subject", "attribute", "aspect", "value", "story", "chapter", "origin", "status")
    list_filter = ("attribute", "origin", "status")
    search_fields = ("subject", "value", "quote", "story__title")
    raw_id_fields = ("story", "chapter")
    readonly_fields = ("key",)


@admin.register(ModelProfile)
class ModelProfileAdmin(admin.ModelAdmin):
    """What the self-test measured (Services page); deleting a row sends the model back to "treated as capable"."""

    list_display = ("provider", "model", "capable", "passed", "asked", "measured_at")
    readonly_fields = ("provider", "model", "capable", "passed", "asked", "answers", "measured_at")
