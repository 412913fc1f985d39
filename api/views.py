"""The writer's API tokens: create one (its key is shown once) or revoke one."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from core.http import parse_id, text_param

from .models import ApiToken

TOKEN_LIFETIMES = [(30, "30 days"), (90, "90 days"), (365, "1 year")]


@login_required
def api_tokens(request):
    """The writer's tokens for the JSON API: create one (its key is shown once) or revoke one."""
    new_key = None
    if request.method == "POST":
        if "revoke" in request.POST:
            pk = parse_id(request.POST["revoke"], "token")
            deleted, _ = ApiToken.objects.filter(user=request.user, pk=pk).delete()
            if not deleted:
                raise Http404("No such token.")
            messages.success(request, "Token revoked; programs using it can no longer sign in.")
            return redirect("api_tokens")
        name = text_param(request.POST.get("name"), 100)
        days = request.POST.get("days") or str(settings.API_TOKEN_DAYS)
        if not name:
            messages.error(request, "Give the token a name, so you know later what uses it.")
        elif not days.isdigit() or not 1 <= int(days) <= 366:
            messages.error(request, "Choose how long the token stays valid.")
        else:
            _, new_key = ApiToken.issue(request.user, name, days=int(days))
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    context = {"tokens": tokens, "new_key": new_key, "lifetimes": TOKEN_LIFETIMES}
    return render(request, "api/api_tokens.html", context)
