from django.db import connection


def notifications(request):
    """The header's unread count, counted only when a page shows the header (a callable: partials such as the
    autosave's answer never run the query). Plain SQL on a partial index: every page pays for it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def unread():
        with connection.cursor() as cursor:
            cursor.execute(UNREAD, [user.pk])
            return cursor.fetchone()[0]

    return {"unread_notifications": unread}


UNREAD = "SELECT count(*) FROM stories_notification WHERE user_id = %s AND read_at IS NULL"
