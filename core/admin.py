from functools import wraps

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User
from .ratelimit import client_address, hit
from .refusals import too_many

LOGIN_WINDOW = 15 * 60


def rate_limited(login):
    """Sign-in attempts to the admin, counted per address and per account name, so a password cannot be guessed
    at speed (the writers' sign-in page has allauth's own limits)."""

    @wraps(login)
    def view(request, extra_context=None):
        if request.method == "POST":
            allowed = settings.ADMIN_LOGINS_PER_15_MINUTES
            keys = [f"admin-login:addr:{client_address(request)}"]
            if request.POST.get("username"):
                keys.append(f"admin-login:user:{request.POST['username'].strip().lower()[:200]}")
            waits = [wait for key in keys if (wait := hit(key, allowed, LOGIN_WINDOW)) is not None]
            if waits:
                return too_many(request, max(waits), "Too many sign-in attempts. Try again in a few minutes.")
        return login(request, extra_context)

    return view


admin.site.login = rate_limited(admin.site.login)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "date_joined"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "password", "display_name"]}),
        ("Moderation", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    actions = ["deactivate", "reactivate"]

    @admin.action(description="Deactivate selected users (they can no longer sign in)")
    def deactivate(self, request, queryset):
        count = queryset.exclude(pk=request.user.pk).update(is_active=False)
        self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected users")
    def reactivate(self, request, queryset):
        count = queryset.update(is_active=True)
        self.message_user(request, f"Reactivated {count} user(s).", messages.SUCCESS)
