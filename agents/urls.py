from django.urls import path

from . import views

urlpatterns = [
    path("search/", views.search, name="search"),
    path("stories/<int:story_pk>/search/", views.search, name="story_search"),
    path("stories/<int:story_pk>/chapters/<int:pk>/grammar/", views.chapter_grammar, name="chapter_grammar"),
    path("stories/<int:pk>/bible/chapters/<int:chapter_pk>/", views.chapter_continuity, name="chapter_continuity"),
    path("stories/<int:story_pk>/bible/facts/<int:pk>/", views.fact_edit, name="fact_edit"),
    path(
        "stories/<int:pk>/bible/chapters/<int:chapter_pk>/relationship/",
        views.relationship_change_apply,
        name="relationship_change_apply",
    ),
]
