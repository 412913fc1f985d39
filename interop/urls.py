from django.urls import path

from . import backup_views, card_views, export_views, lorebook_views, manuscript_views

urlpatterns = [
    path("import/", manuscript_views.manuscript_upload, name="manuscript_upload"),
    path("import/<int:pk>/", manuscript_views.manuscript_preview, name="manuscript_preview"),
    path("characters/import-card/", card_views.card_import, name="card_import"),
    path("characters/<int:pk>/card.<str:kind>", card_views.card_export, name="card_export"),
    path("characters/<int:pk>/update-from-card/", card_views.card_update, name="card_update"),
    path("stories/<int:story_pk>/world/import/", lorebook_views.lorebook_import, name="lorebook_import"),
    path("stories/<int:story_pk>/world.json", lorebook_views.lorebook_export, name="lorebook_export"),
    path("stories/<int:pk>/export/", export_views.export_page, name="story_export"),
    path("stories/<int:pk>/export.md", export_views.export_markdown, name="story_export_markdown"),
    path("stories/<int:pk>/export.epub", export_views.export_epub, name="story_export_epub"),
    path("stories/<int:pk>/export.docx", export_views.export_docx, name="story_export_docx"),
    path("stories/<int:pk>/backup.zip", backup_views.story_backup, name="story_backup"),
    path("backups/restore/", backup_views.backup_restore, name="backup_restore"),
    path("backups/everything.zip", backup_views.account_backup, name="account_backup"),
]
