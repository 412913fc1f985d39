from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Story Assistant moderation"
admin.site.site_title = "Story Assistant admin"

handler400 = "core.views.bad_request"
handler404 = "core.refusals.not_found"
handler500 = "core.views.server_error"

urlpatterns = [
    path("", include("core.urls")),
    path("", include("generation.urls")),  # before admin/: it adds the staff agent-metrics page under admin/
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("django-rq/", include("django_rq.urls")),
    path("", include("agents.urls")),
    path("", include("interop.urls")),
    path("", include("api.urls")),
    path("", include("stories.urls")),
    path("", include("characters.urls")),
    path("", include("pictures.urls")),
]
