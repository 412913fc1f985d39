import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.urls import reverse
from pgvector.django import CosineDistance, VectorField

from stories.models import validate_json_object

from .likeness import reasons


def new_seed() -> int:
    """A portrait seed: below 2**31 so every image service takes it (Automatic1111 keeps seeds in 32 bits)."""
    return secrets.randbelow(2**31 - 1)


# The size of the embedding model's vectors (agents.services.embeddings.DIMENSIONS; a test keeps them equal).
PROFILE_DIMENSIONS = 384
LIKE_THIS_ONE = 5  # characters shown as "like this one"


class CharacterQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(owner=user)

    def similar_to(self, vector, k=LIKE_THIS_ONE) -> list["Character"]:
        """The k characters whose profiles are closest in meaning (cosine), best first, each with .similarity.
        Exact: one writer's library is small enough to rank whole (2,000 characters in a few milliseconds)."""
        found = list(
            self.exclude(profile_embedding=None)
            .annotate(distance=CosineDistance("profile_embedding", list(map(float, vector))))
            .order_by("distance")[:k]
        )
        for character in found:
            character.similarity = 1 - character.distance
        return found


class Character(models.Model):
    """A character in the writer's library; StoryCharacter places it in one or more stories."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="characters")
    name = models.CharField(max_length=200)
    appearance = models.TextField(blank=True, max_length=10000)
    personality = models.TextField(blank=True, max_length=10000)
    backstory = models.TextField(blank=True, max_length=20000)
    speech_pattern = models.TextField("speech pattern / voice", blank=True, max_length=5000)
    goals = models.TextField(blank=True, max_length=5000)
    attributes = models.JSONField(default=dict, blank=True, validators=[validate_json_object])
    # Portraits are made with this seed, so a new portrait is the same person; a new look draws a new one.
    portrait_seed = models.BigIntegerField(default=new_seed, editable=False)
    stories = models.ManyToManyField("stories.Story", through="StoryCharacter", related_name="characters")
    # Who the character is (profile_text), as a vector, kept current by memory sync; the hash of the text it was
    # made from, so an unchanged profile is not embedded again.
    profile_embedding = VectorField(dimensions=PROFILE_DIMENSIONS, null=True, blank=True, editable=False)
    profile_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CharacterQuerySet.as_manager()

    def profile_text(self) -> str:
        """Who the character is, for comparing characters: without the name (a shared name alone must not make two
        characters alike) and with the long backstory cut to its start."""
        parts = [
            ("Appearance", self.appearance),
            ("Personality", self.personality),
            ("Goals", self.goals),
            ("Voice", self.speech_pattern),
            ("Backstory", self.backstory[:2000]),
        ]
        return " ".join(f"{label}: {value.strip()}" for label, value in parts if value.strip())

    def characters_like(self, k=LIKE_THIS_ONE) -> list["Character"]:
        """The writer's other characters closest to this one, best first, each with .similarity and .reasons."""
        if self.profile_embedding is None:
            return []
        library = Character.objects.filter(owner_id=self.owner_id).exclude(pk=self.pk)  # the owner's id: no query
        found = library.similar_to(self.profile_embedding, k)
        roles: dict[int, set[str]] = {}
        members = StoryCharacter.objects.filter(character_id__in=[self.pk, *(c.pk for c in found)])
        for member in members.only("character_id", "role"):
            roles.setdefault(member.character_id, set()).add(member.get_role_display())
        for other in found:
            other.reasons = reasons(self, other, roles)
        return found

    class Meta:
        ordering = ["name"]
        indexes = [
            # The character library: a user's characters by name.
            models.Index(fields=["owner", "name"], name="character_owner_name_idx"),
        ]

    @property
    def card_details(self) -> dict:
        """What a character card brought that the profile has no field for, as the character page shows it: the
        first message and the other greetings, the scenario, tags, creator notes and creator (the export writes
        them back as they came)."""
        card = (self.attributes or {}).get("card") or {}

        def text(key):
            return card[key].strip() if isinstance(card.get(key), str) else ""

        def strings(key):
            return [v for v in card.get(key) or [] if isinstance(v, str) and v.strip()]

        details = {"first_mes": text("first_mes"), "alternate_greetings": strings("alternate_greetings"),
                   "scenario": text("scenario"), "tags": strings("tags"), "creator_notes": text("creator_notes"),
                   "creator": text("creator")}  # fmt: skip
        overflow = (self.attributes or {}).get("card_overflow") or {}
        details["longer"] = [
            {"field": name, "chars": len(overflow[key])}
            for key, name in (
                ("description", "description"),
                ("personality", "personality"),
                ("mes_example", "example dialogue"),
            )  # fmt: skip
            if isinstance(overflow.get(key), str)
        ]
        return {key: value for key, value in details.items() if value}

    @property
    def card_fields(self) -> dict:
        """The card fields the character page edits, each as a string (greetings and tags as lists of strings),
        empty when the character has none."""
        card = (self.attributes or {}).get("card") or {}
        lists = ("alternate_greetings", "tags")
        keys = ("first_mes", "alternate_greetings", "scenario", "tags", "creator_notes", "system_prompt",
                "post_history_instructions", "creator", "character_version")  # fmt: skip
        return {
            key: [v for v in card.get(key) or [] if isinstance(v, str) and v.strip()] if key in lists
            else card[key] if isinstance(card.get(key), str) else ""
            for key in keys
        }  # fmt: skip

    PROFILE_FIELDS = ("name", "appearance", "personality", "backstory", "speech_pattern", "goals")

    @property
    def card_duplicate(self) -> "Character | None":
        """The character of the same name the writer already had when this one came in from a card."""
        pk = (self.attributes or {}).get("card_duplicate_of")
        return Character.objects.filter(owner=self.owner, pk=pk).first() if isinstance(pk, int) else None

    def absorb(self, newer: "Character"):
        """Take a newer copy's profile, card and pictures (a card imported again), and its places in casts where
        this one is not, then delete it: one character, updated, instead of two."""
        with transaction.atomic():
            for field in self.PROFILE_FIELDS:
                setattr(self, field, getattr(newer, field))
            kept = {k: v for k, v in (newer.attributes or {}).items() if k != "card_duplicate_of"}
            self.attributes = {**(self.attributes or {}), **kept}
            self.save()
            newer.appearances.exclude(story__in=self.appearances.values("story")).update(character=self)
            newer.pictures.update(character=self)
            newer.delete()

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("character_detail", args=[self.pk])

    def save(self, *args, **kwargs):
        validate_json_object(self.attributes)
        super().save(*args, **kwargs)


class StoryCharacter(models.Model):
    class Role(models.TextChoices):
        PROTAGONIST = "protagonist", "Protagonist"
        ANTAGONIST = "antagonist", "Antagonist"
        DEUTERAGONIST = "deuteragonist", "Deuteragonist"
        SUPPORTING = "supporting", "Supporting"
        MENTOR = "mentor", "Mentor"
        LOVE_INTEREST = "love_interest", "Love interest"
        MINOR = "minor", "Minor"

    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="cast")
    character = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="appearances")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.SUPPORTING)
    importance = models.PositiveSmallIntegerField(default=5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-importance", "character__name"]
        constraints = [
            models.UniqueConstraint(fields=["story", "character"], name="storycharacter_story_character_unique"),
            models.CheckConstraint(
                condition=Q(importance__gte=1, importance__lte=10), name="storycharacter_importance_1_10"
            ),
        ]

    def __str__(self):
        return f"{self.character} in {self.story} ({self.get_role_display()})"


class CharacterRelationship(models.Model):
    class Kind(models.TextChoices):
        FAMILY = "family", "Family"
        FRIEND = "friend", "Friend"
        ALLY = "ally", "Ally"
        ROMANTIC = "romantic", "Romantic"
        MENTOR = "mentor", "Mentor"
        RIVAL = "rival", "Rival"
        ENEMY = "enemy", "Enemy"
        COLLEAGUE = "colleague", "Colleague"
        OTHER = "other", "Other"

    source = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="relationships_out")
    target = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="relationships_in")
    kind = models.CharField("type", max_length=20, choices=Kind.choices, default=Kind.OTHER)
    strength = models.PositiveSmallIntegerField(default=5, help_text="1 (faint) to 10 (defining)")
    description = models.TextField(blank=True, max_length=5000)
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_json_object])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(strength__gte=1, strength__lte=10), name="relationship_strength_1_10"),
            models.CheckConstraint(condition=~Q(source=F("target")), name="relationship_not_self"),
            models.UniqueConstraint(fields=["source", "target", "kind"], name="relationship_pair_kind_unique"),
        ]
        indexes = [
            # The relationship graph loads every edge touching a story's cast, from either end.
            models.Index(fields=["target"], name="relationship_target_idx"),
        ]

    @classmethod
    def apply_change(cls, source, target, *, kind: str = "", strength: int | None = None, change: str = "", where=""):
        """A change the story told ("she defied him"), accepted by the writer: the pair's relationship of that type
        (or their strongest one, or a new one) takes the new type and strength, and keeps the change in its
        history."""
        kind = kind if kind in cls.Kind.values else ""
        with transaction.atomic():
            pair = cls.objects.select_for_update().filter(source=source, target=target)
            relationship = (pair.filter(kind=kind).first() if kind else None) or pair.order_by("-strength").first()
            if relationship is None:
                relationship = cls(source=source, target=target, kind=kind or cls.Kind.OTHER)
            before = {"kind": relationship.kind, "strength": relationship.strength}
            if kind and not pair.filter(kind=kind).exclude(pk=relationship.pk).exists():
                relationship.kind = kind
            if strength is not None:
                relationship.strength = min(max(int(strength), 1), 10)
            history = list((relationship.metadata or {}).get("history", []))
            history.append({"where": where, "change": change, "before": before,
                            "after": {"kind": relationship.kind, "strength": relationship.strength}})  # fmt: skip
            relationship.metadata = {**(relationship.metadata or {}), "history": history[-50:]}
            relationship.save()
        return relationship

    def __str__(self):
        return f"{self.source} → {self.target} ({self.get_kind_display()}, {self.strength})"

    def clean(self):
        super().clean()
        if self.source_id and self.target_id:
            if self.source_id == self.target_id:
                raise ValidationError("A character cannot have a relationship with themselves.")
            if self.source.owner_id != self.target.owner_id:
                raise ValidationError("Both characters must belong to the same writer.")

    def save(self, *args, **kwargs):
        validate_json_object(self.metadata)
        super().save(*args, **kwargs)
