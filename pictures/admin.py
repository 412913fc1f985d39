from django.contrib import admin

from .models import Picture


@admin.register(Picture)
class PictureAdmin(admin.ModelAdmin):
    """Moderation: what was made or uploaded, by whom, from which prompt. Deleting removes the files too."""

    list_display = ["__str__", "kind", "status", "source", "owner", "story", "service", "created_at"]
    list_filter = ["kind", "status", "source"]
    search_fields = ["caption", "prompt", "owner__email", "story__title", "character__name"]
    list_select_related = ["owner", "story"]
    raw_id_fields = ["owner", "story", "chapter", "character"]
    readonly_fields = [f.name for f in Picture._meta.fields]
