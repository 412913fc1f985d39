from django.urls import path

from . import views

urlpatterns = [
    path("pictures/<uuid:pk>/<str:variant>", views.picture_file, name="picture_file"),
    path("pictures/<uuid:pk>/delete/", views.picture_delete, name="picture_delete"),
    path("characters/<int:character_pk>/portrait/", views.portrait_upload, name="portrait_upload"),
]
