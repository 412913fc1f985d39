from django.urls import path

from . import picture_views, views

urlpatterns = [
    path("stories/<int:story_pk>/generate/", views.generate, name="generate"),
    path("stories/<int:story_pk>/pictures/", picture_views.story_gallery, name="story_gallery"),
    path("stories/<int:story_pk>/pictures/illustrate/", picture_views.chapter_illustrate, name="story_illustrate"),
    path(
        "stories/<int:story_pk>/cast/<int:character_pk>/portrait/",
        picture_views.portrait_request,
        name="portrait_request",
    ),
    path(
        "stories/<int:story_pk>/chapters/<int:chapter_pk>/illustrate/",
        picture_views.chapter_illustrate,
        name="chapter_illustrate",
    ),
    path("tasks/<uuid:pk>/", views.task_detail, name="task_detail"),
    path("tasks/<uuid:pk>/cancel/", views.task_cancel, name="task_cancel"),
    path("tasks/<uuid:pk>/accept/", views.proposal_accept, name="proposal_accept"),
    path("tasks/<uuid:pk>/discard/", views.proposal_discard, name="proposal_discard"),
    path("tasks/<uuid:pk>/regenerate/", views.task_regenerate, name="task_regenerate"),
    path("tasks/<uuid:pk>/rate/", views.task_rate, name="task_rate"),
    path("tasks/<uuid:pk>/findings/ignore/", views.finding_ignore, name="finding_ignore"),
    path("tasks/<uuid:pk>/world/", views.world_proposal_accept, name="world_proposal_accept"),
    path("admin/agent-metrics/", views.agent_metrics, name="agent_metrics"),
    path("admin/services/", views.services_status, name="services_status"),
]
