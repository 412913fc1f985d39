from .feedback import Notification


def notifications(request):
    """The header's unread count, counted only when a page shows the header (a callable: partials such as the
    autosave's answer never run the query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": lambda: Notification.objects.filter(user=user).unread().count()}
