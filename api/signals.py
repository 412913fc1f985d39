"""A new way into an account (a social login connected to it, including by matching e-mail address) ends the API
tokens made before it, as a password change does."""

from allauth.socialaccount.signals import social_account_added
from django.dispatch import receiver

from .models import ApiToken


@receiver(social_account_added)
def revoke_tokens_on_new_sign_in_method(sender, request, sociallogin, **kwargs):
    ApiToken.objects.filter(user=sociallogin.user).delete()
