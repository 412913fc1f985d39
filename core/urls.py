from django.urls import path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("uploads/<uuid:pk>/", views.upload_status, name="upload_status"),
]
