from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Picture


@receiver(post_delete, sender=Picture)
def remove_files(sender, instance, **kwargs):
    """Also when a character, story or account is deleted (cascades send this per row). After the commit, so a
    rolled-back deletion keeps its files."""
    transaction.on_commit(instance.delete_files)
