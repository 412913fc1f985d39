import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from characters.models import CharacterRelationship
from tests.factories import cast, make_character, make_story, make_user, relate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("strength", [0, 11, 100])
def test_relationship_strength_outside_1_to_10_is_rejected_by_the_database(strength):
    owner = make_user()
    a, b = make_character(owner), make_character(owner)
    with pytest.raises(IntegrityError, match="relationship_strength_1_10"), transaction.atomic():
        # .update() bypasses every Python check: this is the database's constraint speaking.
        relationship = relate(a, b, strength=5)
        CharacterRelationship.objects.filter(pk=relationship.pk).update(strength=strength)


@pytest.mark.parametrize("strength", [1, 10])
def test_relationship_strength_at_the_bounds_is_accepted(strength):
    owner = make_user()
    assert relate(make_character(owner), make_character(owner), strength=strength).strength == strength


def test_a_character_cannot_relate_to_themselves():
    hero = make_character(make_user())
    with pytest.raises(IntegrityError, match="relationship_not_self"), transaction.atomic():
        relate(hero, hero)


def test_relationships_between_two_writers_characters_are_invalid():
    relationship = CharacterRelationship(source=make_character(make_user()), target=make_character(make_user()))
    with pytest.raises(ValidationError, match="same writer"):
        relationship.full_clean()


def test_importance_is_between_1_and_10():
    owner = make_user()
    story, hero = make_story(owner), make_character(owner)
    with pytest.raises(IntegrityError, match="storycharacter_importance_1_10"), transaction.atomic():
        cast(story, hero, importance=11)


def test_a_character_is_cast_once_per_story():
    owner = make_user()
    story, hero = make_story(owner), make_character(owner)
    cast(story, hero)
    with pytest.raises(IntegrityError), transaction.atomic():
        cast(story, hero)
