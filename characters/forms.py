from django import forms

from .models import Character, CharacterRelationship, StoryCharacter


class CharacterForm(forms.ModelForm):
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
