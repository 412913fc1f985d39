from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("stories/new/", views.story_create, name="story_create"),
    path("stories/<int:pk>/", views.story_detail, name="story_detail"),
]
