from django import forms

from agents.team.kinds import IMAGE_MODES
from agents.team.requests import TaskRequest, covers_text
from stories.models import WorldEntry

from .models import GenerationTask

# What a name a draft introduced can be added as: a cast member, or an entry of the world.
PROPOSAL_KINDS = {"character": "Character (to the cast)", **dict(WorldEntry.Kind.choices)}
# Pictures are asked for from the cast, the character's page and the gallery, with their own controls.
WRITING_MODES = [(value, label) for value, label in GenerationTask.Mode.choices if value not in IMAGE_MODES]


class GenerateForm(forms.Form):
    """A request to the agents from the editor. Offsets are character positions in the chapter as saved."""

    mode = forms.ChoiceField(choices=WRITING_MODES, initial=GenerationTask.Mode.NEXT_CHAPTER)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    chapter_title = forms.CharField(required=False, max_length=200)
    cursor = forms.IntegerField(required=False, min_value=0)
    selection_start = forms.IntegerField(required=False, min_value=0)
    selection_end = forms.IntegerField(required=False, min_value=0)
    characters = forms.MultipleChoiceField(required=False, choices=[])

    def __init__(self, *args, story, chapter=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.story, self.chapter = story, chapter
        self.fields["characters"].choices = [(n, n) for n in story.characters.values_list("name", flat=True)]

    def clean(self):
        data = super().clean()
        mode, chapter = data.get("mode"), self.chapter
        content = chapter.content if chapter else ""
        if mode in ("continue", "rewrite", "dialogue", "check") and chapter is None:
            raise forms.ValidationError("Open a chapter first: this kind of request works on a chapter.")
        selected = covers_text(data.get("selection_start"), data.get("selection_end"), content)
        if mode == "rewrite" and not selected:
            raise forms.ValidationError("Select the passage to rewrite in the editor first.")
        if mode == "dialogue" and not data.get("characters"):
            raise forms.ValidationError("Choose at least one character to speak.")
        return data  # a cursor past the end means the end (TaskRequest.about)

    def task_request(self) -> TaskRequest:
        """What the task needs to remember, including what the text looked like, to apply the result safely."""
        data, content = self.cleaned_data, self.chapter.content if self.chapter else ""
        start, end = data.get("selection_start"), data.get("selection_end")
        selected = covers_text(start, end, content)
        return TaskRequest.about(
            self.chapter, cursor=data.get("cursor"), selection=(start, end) if selected else None,
            note=data.get("note", ""), chapter_title=data.get("chapter_title", ""),
            characters=data.get("characters", []),
        )  # fmt: skip


class AcceptForm(forms.Form):
    text = forms.CharField(required=False, strip=False, widget=forms.Textarea)


class RatingForm(forms.Form):
    rating = forms.IntegerField(min_value=1, max_value=5)


class PictureRequestForm(forms.Form):
    """A portrait or an illustration: an optional note on what to show, and for a portrait, a new look."""

    note = forms.CharField(required=False, max_length=500)
    new_look = forms.BooleanField(required=False)
