from django import forms
from django.conf import settings

from .models import (
    CHAPTER_MAX_CHARS,
    DIALECTS,
    DICTIONARY_WORD_CHARS,
    DICTIONARY_WORDS,
    IMAGE_STYLES,
    POINTS_OF_VIEW,
    GenerationSettings,
    Story,
    WorldEntry,
    dictionary_entry,
)

POV_CHOICES = list(POINTS_OF_VIEW.items())
TENSE_CHOICES = [("past", "Past"), ("present", "Present")]
DIALECT_CHOICES = list(DIALECTS.items())


class StoryForm(forms.ModelForm):
    """The story plus its generation settings, which live in one validated JSON column."""

    tone = forms.CharField(max_length=120, required=False, help_text="e.g. wry, tender, grim, hopeful")
    pov = forms.ChoiceField(label="Point of view", choices=POV_CHOICES, initial="third_limited")
    tense = forms.ChoiceField(choices=TENSE_CHOICES, initial="past")
    target_words = forms.IntegerField(label="Target words per chapter", min_value=100, max_value=20000, initial=2000)
    images_enabled = forms.BooleanField(
        label="Illustrate chapters",
        required=False,
        help_text="When you accept a chapter from the agents, an illustration of it is proposed.",
    )
    image_style = forms.ChoiceField(
        label="Picture style",
        choices=list(IMAGE_STYLES.items()),
        initial="illustration",
        required=False,
        help_text="For portraits and illustrations.",
    )
    model = forms.ChoiceField(label="Model", required=False, help_text="The models this site offers.")
    dialect = forms.ChoiceField(
        label="Spelling",
        choices=DIALECT_CHOICES,
        initial="en-US",
        required=False,
        help_text="Grammar and spelling checks follow it.",
    )

    learn_from_ratings = forms.BooleanField(
        label="Learn from my ratings",
        required=False,
        help_text="Drafts you rate 4 or 5 stars show the team the style you like in this story.",
    )

    dictionary = forms.CharField(
        label="This story's dictionary",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Words and names of this story, one a line, that grammar and spelling leave alone (the cast's and "
        "the world's names already are).",
    )

    setting_fields = [
        "tone", "pov", "tense", "target_words", "images_enabled", "image_style", "model", "dialect",
        "learn_from_ratings", "dictionary",
    ]  # fmt: skip

    class Meta:
        model = Story
        fields = ["title", "genre", "premise"]
        widgets = {"premise": forms.Textarea(attrs={"rows": 4})}
        error_messages = {"title": {"required": "Give the story a title."}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = GenerationSettings.model_validate(self.instance.generation_settings or {}).model_dump()
        self.fields["model"].choices = [("", "The site's default model")] + [
            (name, "Built-in small model (fast, for trying things out)" if name == "embedded" else name)
            for name in settings.LLM_STORY_MODELS
        ]
        for name in self.setting_fields:
            self.fields[name].initial = current[name]
        self.fields["dictionary"].initial = "\n".join(current["dictionary"])
        self.fields["title"].widget.attrs.update({"autofocus": True, "placeholder": "Untitled story"})

    def clean_dialect(self):
        return self.cleaned_data["dialect"] or "en-US"

    def clean_dictionary(self):
        words = list(dict.fromkeys(dictionary_entry(line) for line in self.cleaned_data["dictionary"].splitlines()))
        words = [w for w in words if w]
        if len(words) > DICTIONARY_WORDS or any(len(w) > DICTIONARY_WORD_CHARS for w in words):
            raise forms.ValidationError(
                f"At most {DICTIONARY_WORDS} words, each under {DICTIONARY_WORD_CHARS} characters."
            )
        return words

    def clean_image_style(self):
        return self.cleaned_data["image_style"] or "illustration"

    def save(self, commit=True):
        self.instance.generation_settings = {name: self.cleaned_data[name] for name in self.setting_fields}
        return super().save(commit=commit)


TITLE_REQUIRED = {"required": "A chapter needs a title."}


class ChapterTitleForm(forms.Form):
    title = forms.CharField(max_length=200, error_messages=TITLE_REQUIRED)


class ChapterSaveForm(forms.Form):
    """One autosave: the writer's text and the version it was based on (to detect conflicts)."""

    title = forms.CharField(max_length=200, error_messages=TITLE_REQUIRED)
    content = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    base_version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def clean_content(self):
        content = self.cleaned_data["content"].replace("\r\n", "\n")
        if len(content) > CHAPTER_MAX_CHARS:
            raise forms.ValidationError(
                f"This chapter is {len(content):,} characters; the limit is {CHAPTER_MAX_CHARS:,}. "
                "Your text is still in the editor: split it into two chapters to save it.",
                code="too_long",
            )
        return content


class WorldEntryForm(forms.ModelForm):
    class Meta:
        model = WorldEntry
        fields = ["kind", "name", "time_period", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 5})}
        error_messages = {"name": {"required": "Give the entry a name."}}
