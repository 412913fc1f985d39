from django.urls import path

from . import chapter_views, review_views, sharing_views, views, world_views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("trash/", views.trash, name="trash"),
    path("stories/new/", views.story_create, name="story_create"),
    path("stories/<int:pk>/", views.story_detail, name="story_detail"),
    path("stories/<int:pk>/edit/", views.story_edit, name="story_edit"),
    path("stories/<int:pk>/dictionary/", views.dictionary_add, name="dictionary_add"),
    path("stories/<int:pk>/archive/", views.story_archive, name="story_archive"),
    path("stories/<int:pk>/delete/", views.story_delete, name="story_delete"),
    path("stories/<int:pk>/restore/", views.story_restore, name="story_restore"),
    path("stories/<int:pk>/bible/ignored/<int:finding_pk>/restore/", views.finding_restore, name="finding_restore"),
    # Collaborators
    path("stories/<int:pk>/people/", sharing_views.collaborators, name="collaborators"),
    path("stories/<int:pk>/people/invite/", sharing_views.invite, name="invite"),
    path(
        "stories/<int:pk>/people/invitations/<int:invitation_pk>/revoke/",
        sharing_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("stories/<int:pk>/people/<int:member_pk>/", sharing_views.member_change, name="member_change"),
    path("stories/<int:pk>/leave/", sharing_views.leave, name="story_leave"),
    path("invitations/<str:token>/", sharing_views.invitation, name="invitation"),
    # Chapters
    path("stories/<int:story_pk>/chapters/new/", chapter_views.chapter_create, name="chapter_create"),
    path("stories/<int:story_pk>/chapters/reorder/", chapter_views.chapter_reorder, name="chapter_reorder"),
    path("stories/<int:story_pk>/chapters/<int:pk>/", chapter_views.chapter_edit, name="chapter_edit"),
    path("stories/<int:story_pk>/chapters/<int:pk>/save/", chapter_views.chapter_save, name="chapter_save"),
    path("stories/<int:story_pk>/chapters/<int:pk>/rename/", chapter_views.chapter_rename, name="chapter_rename"),
    path("stories/<int:story_pk>/chapters/<int:pk>/move/", chapter_views.chapter_move, name="chapter_move"),
    path("stories/<int:story_pk>/chapters/<int:pk>/delete/", chapter_views.chapter_delete, name="chapter_delete"),
    path("stories/<int:story_pk>/chapters/<int:pk>/history/", chapter_views.revision_list, name="revision_list"),
    path(
        "stories/<int:story_pk>/chapters/<int:pk>/history/<int:revision_pk>/",
        chapter_views.revision_detail,
        name="revision_detail",
    ),
    path(
        "stories/<int:story_pk>/chapters/<int:pk>/history/<int:revision_pk>/restore/",
        chapter_views.revision_restore,
        name="revision_restore",
    ),
    # Review: comments and suggestions on a chapter
    path("stories/<int:story_pk>/chapters/<int:pk>/review/", review_views.review_panel, name="review_panel"),
    path("stories/<int:story_pk>/chapters/<int:pk>/changes/", chapter_views.chapter_changes, name="chapter_changes"),
    path("stories/<int:story_pk>/chapters/<int:pk>/comments/", review_views.comment_add, name="comment_add"),
    path(
        "stories/<int:story_pk>/chapters/<int:pk>/comments/<int:comment_pk>/resolve/",
        review_views.comment_resolve,
        name="comment_resolve",
    ),
    path(
        "stories/<int:story_pk>/chapters/<int:pk>/comments/<int:comment_pk>/delete/",
        review_views.comment_delete,
        name="comment_delete",
    ),
    path("stories/<int:story_pk>/chapters/<int:pk>/suggestions/", review_views.suggestion_add, name="suggestion_add"),
    path(
        "stories/<int:story_pk>/chapters/<int:pk>/suggestions/<int:suggestion_pk>/",
        review_views.suggestion_decide,
        name="suggestion_decide",
    ),
    path("notifications/", review_views.notifications, name="notifications"),
    path("notifications/read/", review_views.notifications_read, name="notifications_read"),
    # World
    path("stories/<int:story_pk>/world/", world_views.world_list, name="world_list"),
    path("stories/<int:story_pk>/world/<int:pk>/", world_views.world_edit, name="world_edit"),
    path("stories/<int:story_pk>/world/<int:pk>/delete/", world_views.world_delete, name="world_delete"),
]
