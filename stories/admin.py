from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Count

from .models import Chapter, ChapterRevision, Story, WorldEntry


class FlagActionForm(ActionForm):
    reason = forms.CharField(required=False, label="Reason (shown to the owner)")


class ChapterInline(admin.TabularInline):
    model = Chapter
    fields = ["order", "title", "status", "word_count", "updated_at"]
    readonly_fields = ["word_count", "updated_at"]
    extra = 0
    show_change_link = True


@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "genre", "chapter_count", "is_flagged", "archived_at", "deleted_at", "updated_at"]
    list_filter = ["is_flagged", "genre", ("archived_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["title", "premise", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = ["flagged_at", "flagged_by", "created_at", "updated_at"]
    autocomplete_fields = ["owner"]
    inlines = [ChapterInline]
    action_form = FlagActionForm
    actions = ["flag_stories", "unflag_stories"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(chapter_total=Count("chapters"))

    @admin.display(description="Chapters", ordering="chapter_total")
    def chapter_count(self, obj):
        return obj.chapter_total

    @admin.action(description="Hide selected stories (give a reason)")
    def flag_stories(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason: the owner sees it.", messages.ERROR)
            return
        for story in queryset:
            story.flag(reason, by=request.user)
        self.message_user(request, f"Hid {queryset.count()} story(ies).", messages.SUCCESS)

    @admin.action(description="Unhide selected stories")
    def unflag_stories(self, request, queryset):
        for story in queryset:
            story.unflag()
        self.message_user(request, f"Unhid {queryset.count()} story(ies).", messages.SUCCESS)


class RevisionInline(admin.TabularInline):
    model = ChapterRevision
    fields = ["version", "source", "author", "word_count", "note", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ["title", "story", "order", "status", "word_count", "version", "updated_at"]
    list_filter = ["status"]
    search_fields = ["title", "story__title", "story__owner__email"]
    list_select_related = ["story"]
    readonly_fields = ["word_count", "version", "created_at", "updated_at"]
    raw_id_fields = ["story"]
    inlines = [RevisionInline]


@admin.register(ChapterRevision)
class ChapterRevisionAdmin(admin.ModelAdmin):
    list_display = ["chapter", "version", "source", "author", "word_count", "created_at"]
    list_filter = ["source", "created_at"]
    search_fields = ["chapter__title", "chapter__story__title"]
    list_select_related = ["chapter", "author"]
    readonly_fields = ["chapter", "title", "content", "word_count", "version", "source", "author", "note", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WorldEntry)
class WorldEntryAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "story", "time_period", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name", "description", "story__title"]
    list_select_related = ["story"]
    raw_id_fields = ["story"]
