"""Visual storytelling agent: describes the scene to illustrate. It is planned only when the story has images on
and an image backend is configured (IMAGE_BACKEND_URL); the image itself is made by that backend."""

from .base import AgentContext
from .messages import AgentMessage, Draft, Illustration, StepResult


def illustrate(ctx: AgentContext, message: AgentMessage) -> StepResult:
    text = message.context.get(message.payload["draft"], Draft()).text
    opening = " ".join(text.split("\n\n")[0].split()[:80])
    present = [
        f"{m.character.name}: {m.character.appearance.strip()}"
        for m in ctx.story.cast.select_related("character")
        if m.character.name in text and m.character.appearance.strip()
    ]
    prompt = f"{ctx.story.genre or 'Story'} illustration. Scene: {opening}"
    if present:
        prompt += " Characters: " + "; ".join(present)
    return StepResult(Illustration(scene_prompt=prompt, characters=len(present)))
