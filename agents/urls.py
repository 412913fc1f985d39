from django.urls import path

from . import views

urlpatterns = [
    path("search/", views.search, name="search"),
    path("stories/<int:story_pk>/search/", views.search, name="story_search"),
    path("stories/<int:story_pk>/chapters/<int:pk>/grammar/", views.chapter_grammar, name="chapter_grammar"),
    path("stories/<int:pk>/bible/chapters/<int:chapter_pk>/", views.chapter_continuity, name="chapter_continuity"),
    path("stories/<int:story_pk>/bible/facts/<int:pk>/", views.fact_edit, name="fact_edit"),
    path("stories/<int:pk>/style/", views.story_style, name="story_style"),
    path("stories/<int:pk>/scenes/", views.story_scenes, name="story_scenes"),
    path("stories/<int:pk>/bible/patterns/", views.story_patterns, name="story_patterns"),
    path("stories/<int:pk>/bible/patterns/<int:pattern_pk>/", views.pattern_dismiss, name="pattern_dismiss"),
    path(
        "stories/<int:pk>/bible/chapters/<int:chapter_pk>/relationship/",
        views.relationship_change_apply,
        name="relationship_change_apply",
    ),
]
