from django import forms

from .models import GenerationSettings, Story

POV_CHOICES = [
    ("first", "First person"),
    ("second", "Second person"),
    ("third_limited", "Third person limited"),
    ("third_omniscient", "Third person omniscient"),
]
TENSE_CHOICES = [("past", "Past"), ("present", "Present")]


class StoryForm(forms.ModelForm):
    """The story plus its generation settings, which live in one validated JSON column."""

    tone = forms.CharField(max_length=120, required=False, help_text="e.g. wry, tender, grim, hopeful")
    pov = forms.ChoiceField(label="Point of view", choices=POV_CHOICES, initial="third_limited")
    tense = forms.ChoiceField(choices=TENSE_CHOICES, initial="past")
    target_words = forms.IntegerField(label="Target words per chapter", min_value=100, max_value=20000, initial=2000)
    images_enabled = forms.BooleanField(label="Illustrate chapters", required=False)
    model = forms.CharField(
        label="Model", max_length=200, required=False, help_text="Leave empty to use the site's default model."
    )

    setting_fields = ["tone", "pov", "tense", "target_words", "images_enabled", "model"]

    class Meta:
        model = Story
        fields = ["title", "genre", "premise"]
        widgets = {"premise": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = GenerationSettings.model_validate(self.instance.generation_settings or {}).model_dump()
        for name in self.setting_fields:
            self.fields[name].initial = current[name]
        self.fields["title"].widget.attrs.update({"autofocus": True, "placeholder": "Untitled story"})

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the story a title.")
        return title

    def save(self, commit=True):
        self.instance.generation_settings = {name: self.cleaned_data[name] for name in self.setting_fields}
        return super().save(commit=commit)
