from django.contrib import admin

from .models import Character, CharacterRelationship, StoryCharacter


class StoryCharacterInline(admin.TabularInline):
    model = StoryCharacter
    raw_id_fields = ["story"]
    extra = 0


@admin.register(Character)
class CharacterAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "updated_at"]
    search_fields = ["name", "owner__email", "personality", "backstory"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    inlines = [StoryCharacterInline]


@admin.register(StoryCharacter)
class StoryCharacterAdmin(admin.ModelAdmin):
    list_display = ["character", "story", "role", "importance"]
    list_filter = ["role"]
    search_fields = ["character__name", "story__title"]
    list_select_related = ["character", "story"]
    raw_id_fields = ["story", "character"]


@admin.register(CharacterRelationship)
class CharacterRelationshipAdmin(admin.ModelAdmin):
    list_display = ["source", "kind", "target", "strength"]
    list_filter = ["kind", "strength"]
    search_fields = ["source__name", "target__name", "description"]
    list_select_related = ["source", "target"]
    raw_id_fields = ["source", "target"]
