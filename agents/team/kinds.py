"""The names the agents and the requests they serve go by: the agents plan with them, and the generation app
stores them on tasks and steps."""

from django.db import models


class AgentType(models.TextChoices):
    CREATIVE_DIRECTOR = "creative_director", "Creative director"
    WORLD_BUILDING = "world_building", "World building"
    CONTINUATION_CONTEXT = "continuation_context", "Continuation context"
    NARRATIVE_INTELLIGENCE = "narrative_intelligence", "Narrative writer"
    QUALITY_ASSURANCE = "quality_assurance", "Quality assurance"
    VISUAL_STORYTELLING = "visual_storytelling", "Visual storytelling"


class Mode(models.TextChoices):
    """What a writer can ask the team for."""

    NEXT_CHAPTER = "next_chapter", "Write the next chapter"
    CONTINUE = "continue", "Continue from the cursor"
    REWRITE = "rewrite", "Rewrite the selection"
    DIALOGUE = "dialogue", "Write dialogue"
    BRAINSTORM = "brainstorm", "Brainstorm options"
    # Not writing: the writer's own chapter (or a selection) checked against everything before it.
    CHECK = "check", "Check continuity"
    # Pictures: a character's portrait, or an illustration of a chapter.
    PORTRAIT = "portrait", "Draw a portrait"
    ILLUSTRATE = "illustrate", "Illustrate the chapter"


IMAGE_MODES = (Mode.PORTRAIT, Mode.ILLUSTRATE)
