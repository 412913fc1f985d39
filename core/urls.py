from django.urls import path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("healthz/floor", views.floor, name="healthz_floor"),
    path("uploads/<uuid:pk>/", views.upload_status, name="upload_status"),
]
