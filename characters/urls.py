from django.urls import path

from . import views

urlpatterns = [
    path("characters/", views.character_list, name="character_list"),
    path("characters/new/", views.character_create, name="character_create"),
    path("characters/<int:pk>/", views.character_detail, name="character_detail"),
    path("characters/<int:pk>/delete/", views.character_delete, name="character_delete"),
    path("stories/<int:pk>/bible/", views.story_bible, name="story_bible"),
    path("stories/<int:story_pk>/cast/", views.story_cast, name="story_cast"),
    path("stories/<int:story_pk>/cast/<int:pk>/", views.cast_update, name="cast_update"),
    path("stories/<int:story_pk>/cast/<int:pk>/remove/", views.cast_remove, name="cast_remove"),
    path("stories/<int:story_pk>/relationships/", views.story_relationships, name="story_relationships"),
    path("stories/<int:story_pk>/relationships.svg", views.relationship_graph_svg, name="relationship_graph_svg"),
    path(
        "stories/<int:story_pk>/relationships/<int:pk>/delete/",
        views.relationship_delete,
        name="relationship_delete",
    ),
]
