from django import forms

from .models import Character, CharacterRelationship, StoryCharacter


class ListInput(forms.Textarea):
    """Several textareas of the same name (a card's other greetings, one each): the value is their list."""

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)


CARD_TEXT_MAX = 50_000  # per field a writer edits here; a longer field a card brought is kept while unchanged
CARD_LIST_MAX = 100
TAG_MAX = 100


class CharacterForm(forms.ModelForm):
    """The profile, and the fields a character card carries that the profile has none for (greetings, scenario,
    tags, creator's notes...), kept in the character's attributes under "card" and exported with the card. A card
    field absent from the request is left as it was, so a client posting only the profile loses nothing."""

    card_first_mes = forms.CharField(label="First message", required=False, strip=False,
                                     widget=forms.Textarea(attrs={"rows": 5}))  # fmt: skip
    card_alternate_greetings = forms.Field(label="Other greetings", required=False, widget=ListInput)
    card_scenario = forms.CharField(label="Scenario", required=False, strip=False,
                                    widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip
    card_tags = forms.CharField(label="Tags", required=False, help_text="Separated by commas")
    card_creator_notes = forms.CharField(label="Creator's notes", required=False, strip=False,
                                         widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip
    card_system_prompt = forms.CharField(label="System prompt", required=False, strip=False,
                                         widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    card_post_history_instructions = forms.CharField(label="Post-history instructions", required=False,
                                                     strip=False, widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    card_creator = forms.CharField(label="Creator", required=False)
    card_character_version = forms.CharField(label="Card version", required=False)

    CARD_KEYS = ("first_mes", "alternate_greetings", "scenario", "tags", "creator_notes", "system_prompt",
                 "post_history_instructions", "creator", "character_version")  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        card = self.instance.card_fields
        for key in self.CARD_KEYS:
            value = card[key]
            self.initial[f"card_{key}"] = ", ".join(value) if key == "tags" else value

    @property
    def profile_fields(self):
        return [field for field in self.visible_fields() if not field.name.startswith("card_")]

    @property
    def card_form_fields(self):
        return [field for field in self.visible_fields() if field.name.startswith("card_")]

    def greetings(self) -> list[str]:
        """The greetings to show, each in its own box, and one empty box for a new one."""
        value = self["card_alternate_greetings"].value()
        return [*[g for g in (value or []) if isinstance(g, str) and g.strip()], ""]

    def _card_value(self, key):
        """The field's new value, or None when the request did not carry it or left it as it was."""
        name = f"card_{key}"
        if name not in self.data:
            return None
        value = self.cleaned_data.get(name)
        return None if value == self.initial.get(name) else value

    def clean_card_alternate_greetings(self):
        value = self.cleaned_data["card_alternate_greetings"] or []
        greetings = [g for g in (value if isinstance(value, list) else [value]) if isinstance(g, str) and g.strip()]
        if greetings != self.initial["card_alternate_greetings"]:
            if len(greetings) > CARD_LIST_MAX:
                raise forms.ValidationError(f"A card holds at most {CARD_LIST_MAX} other greetings.")
            if any(len(g) > CARD_TEXT_MAX for g in greetings if g not in self.initial["card_alternate_greetings"]):
                raise forms.ValidationError(f"A greeting can be at most {CARD_TEXT_MAX:,} characters.")
        return greetings

    def clean(self):
        cleaned = super().clean()
        for key in self.CARD_KEYS:
            name = f"card_{key}"
            value = cleaned.get(name)
            if key == "alternate_greetings" or not isinstance(value, str) or value == self.initial.get(name):
                continue
            if key == "tags":
                tags = [t.strip() for t in value.split(",") if t.strip()]
                if len(tags) > CARD_LIST_MAX or any(len(t) > TAG_MAX for t in tags):
                    self.add_error(name, f"At most {CARD_LIST_MAX} tags of up to {TAG_MAX} characters each.")
            elif len(value) > CARD_TEXT_MAX:
                self.add_error(name, f"At most {CARD_TEXT_MAX:,} characters here.")
        return cleaned

    def save(self, commit=True):
        changed = {}
        for key in self.CARD_KEYS:
            value = self._card_value(key)
            if value is not None:
                changed[key] = [t.strip() for t in value.split(",") if t.strip()] if key == "tags" else value
        if changed:
            attributes = dict(self.instance.attributes or {})
            attributes["card"] = {**(attributes.get("card") or {}), **changed}
            self.instance.attributes = attributes
        return super().save(commit)

    class Meta:
        model = Character
        fields = ["name", "appearance", "personality", "backstory", "speech_pattern", "goals"]
        error_messages = {"name": {"required": "Give the character a name."}}
        widgets = {
            "appearance": forms.Textarea(attrs={"rows": 3, "placeholder": "Height, build, eyes, hair, clothes, marks"}),
            "personality": forms.Textarea(attrs={"rows": 3, "placeholder": "Temperament, habits, fears, virtues"}),
            "backstory": forms.Textarea(attrs={"rows": 5}),
            "speech_pattern": forms.Textarea(attrs={"rows": 3, "placeholder": "Vocabulary, rhythm, catchphrases"}),
            "goals": forms.Textarea(attrs={"rows": 3}),
        }


class CastForm(forms.ModelForm):
    """Put one of the writer's characters into a story."""

    importance = forms.IntegerField(min_value=1, max_value=10, initial=5, help_text="1 (walk-on) to 10 (lead)")

    class Meta:
        model = StoryCharacter
        fields = ["character", "role", "importance"]

    def __init__(self, *args, story, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["character"].queryset = Character.objects.for_user(story.owner).exclude(appearances__story=story)
        self.instance.story = story


class CastUpdateForm(forms.ModelForm):
    importance = forms.IntegerField(min_value=1, max_value=10)

    class Meta:
        model = StoryCharacter
        fields = ["role", "importance"]


class RelationshipForm(forms.ModelForm):
    strength = forms.IntegerField(min_value=1, max_value=10, initial=5, help_text="1 (faint) to 10 (defining)")

    class Meta:
        model = CharacterRelationship
        fields = ["source", "kind", "target", "strength", "description"]
        labels = {"source": "Character", "target": "Towards"}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, story, **kwargs):
        super().__init__(*args, **kwargs)
        cast = Character.objects.filter(appearances__story=story)
        self.fields["source"].queryset = cast
        self.fields["target"].queryset = cast

    def clean(self):
        cleaned = super().clean()
        source, target = cleaned.get("source"), cleaned.get("target")
        if source and target and source == target:
            raise forms.ValidationError("Pick two different characters.")
        if (
            source
            and target
            and CharacterRelationship.objects.filter(source=source, target=target, kind=cleaned.get("kind"))
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            raise forms.ValidationError("That relationship already exists; edit it instead.")
        return cleaned
