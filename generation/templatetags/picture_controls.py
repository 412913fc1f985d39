"""Picture controls on pages of the stories and characters apps, which know nothing of image services: whether
one is configured, and else what to set."""

from django import template

from pictures import making

register = template.Library()


@register.simple_tag
def images_available() -> bool:
    return making.available()


@register.simple_tag
def images_how_to_enable() -> str:
    return making.how_to_enable()
