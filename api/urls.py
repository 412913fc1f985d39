from django.urls import path

from . import data_views, discovery_views, task_views, views

urlpatterns = [
    path("account/api-tokens/", views.api_tokens, name="api_tokens"),
    # JSON API
    path("api/openapi.json", data_views.openapi, name="api_openapi"),
    path("api/docs", data_views.api_docs, name="api_docs"),
    path("api/stories", data_views.stories, name="api_stories"),
    path("api/stories/<int:story_pk>", data_views.story, name="api_story"),
    path("api/stories/<int:story_pk>/chapters", data_views.chapters, name="api_chapters"),
    path("api/stories/<int:story_pk>/chapters/<int:chapter_pk>", data_views.chapter, name="api_chapter"),
    path("api/characters", data_views.characters, name="api_characters"),
    path("api/characters/<int:character_pk>", data_views.character, name="api_character"),
    path("api/stories/<int:story_pk>/world", data_views.world, name="api_world"),
    path("api/stories/<int:story_pk>/world/<int:entry_pk>", data_views.world_entry, name="api_world_entry"),
    path("api/stories/<int:story_pk>/generate-content", task_views.generate_content, name="api_generate"),
    path(
        "api/stories/<int:story_pk>/chapters/<int:chapter_pk>/continuity",
        task_views.check_continuity,
        name="api_check_continuity",
    ),
    path("api/tasks/<uuid:pk>/status", task_views.status, name="api_task_status"),
    path("api/characters/<int:character_pk>/like-this", discovery_views.characters_like, name="api_characters_like"),
    path("api/stories/<int:story_pk>/patterns", discovery_views.story_patterns, name="api_story_patterns"),
    path("api/stories/<int:story_pk>/style", discovery_views.story_style, name="api_story_style"),
    path("api/stories/<int:story_pk>/scenes", discovery_views.story_scenes, name="api_story_scenes"),
    path("api/pictures/<uuid:pk>/<str:variant>", task_views.picture, name="api_picture"),
    path("api/tasks/<uuid:pk>/cancel", task_views.cancel, name="api_task_cancel"),
]
