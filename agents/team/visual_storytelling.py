"""Visual storytelling: portraits that match the codex and illustrations of a chapter's scene.

A portrait is drawn from the character's appearance (the profile, and the appearance facts in the ledger) in the
story's picture style, always with the character's own seed, so a new portrait is the same person unless the
writer asks for a new look. A scene is the chapter's most striking moment (described by a capable model, or the
passage where most of the cast meet when only the built-in one runs), with each person in it as they look at
that point of the story. The picture is made through pictures/making.py and kept as a proposal for the writer.
"""

import json
import re
from functools import cache

from agents.models import Fact, FactAttribute
from agents.services import llm
from agents.services.prompting import PROMPTS, render
from agents.team.base import AgentContext
from agents.team.messages import AgentMessage, Illustration, StepResult
from characters.models import new_seed
from pictures import making
from pictures.images import PictureRejected
from pictures.models import Picture

PORTRAIT_SIZE = (832, 1216)  # SDXL's native portrait shape; other services get the closest size they offer
SCENE_SIZE = (1216, 832)
SCENE_WORDS = 80  # a scene described from the text itself
DESCRIBE_WORDS = 1500  # the passage a capable model reads to describe the scene
PEOPLE_IN_SCENE = 3  # more faces than this and image models blur them together
APPEARANCE_CHARS = 400
NOTE_CHARS = 500
PARAGRAPH_RE = re.compile(r"\n\s*\n")


@cache
def styles() -> dict:
    return json.loads((PROMPTS / "image_styles.json").read_text())


def style_of(story) -> dict:
    return styles()[story.settings.image_style]


def appearance_at(story, character, chapter=None) -> str:
    """The profile's appearance, then what the ledger says of it, as it stands at the chapter (or the latest)."""
    facts = Fact.objects.filter(story=story, attribute=FactAttribute.APPEARANCE, subject__iexact=character.name)
    if chapter is not None:
        facts = facts.filter(chapter__order__lte=chapter.order)
    parts = [" ".join(character.appearance.split())] + [fact.value for fact in facts.latest_by_key().values()]
    return "; ".join(p for p in parts if p)[:APPEARANCE_CHARS]


def note(ctx: AgentContext) -> str:
    """The writer's wishes (notes add up over regenerations), bounded: image models read only so much."""
    return ctx.request.note[-NOTE_CHARS:]


def make(ctx: AgentContext, prompt: str, negative: str, seed: int, size: tuple[int, int], **fields):
    """The picture, stored as a proposal; None when the writer cancelled."""
    try:
        made = making.make(
            making.ImageRequest(prompt=prompt, negative=negative, seed=seed, width=size[0], height=size[1]),
            progress=ctx.progress,
            should_cancel=ctx.should_cancel,
        )
    except making.Cancelled:
        return None
    try:
        return Picture.store(
            made.data, owner=ctx.story.owner, story=ctx.story, prompt=prompt, negative_prompt=negative,
            seed=made.seed, service=made.service, **fields,
        )  # fmt: skip
    except PictureRejected as exc:
        raise making.ImageError(f"The image service sent something that is not a usable picture: {exc}") from exc


def portrait(ctx: AgentContext, message: AgentMessage) -> StepResult:
    character = ctx.story.characters.filter(pk=ctx.request.character).first()
    if character is None:
        raise making.ImageError("The character is no longer in this story.")
    style = style_of(ctx.story)
    prompt = render(
        "portrait_image", character=character.name, appearance=appearance_at(ctx.story, character),
        genre=ctx.story.genre, note=note(ctx), style=style["prompt"],
    )  # fmt: skip
    seed = new_seed() if ctx.request.new_look else character.portrait_seed
    picture = make(
        ctx, prompt, style["negative"], seed, PORTRAIT_SIZE,
        kind=Picture.Kind.PORTRAIT, character=character, caption=character.name,
    )  # fmt: skip
    if picture is None:
        return StepResult(Illustration(prompt=prompt, cancelled=True))
    return StepResult(Illustration(picture_id=str(picture.pk), prompt=prompt, characters=[character.name]))


def busiest_passage(text: str, names: list[str]) -> str:
    """The paragraph where most of the cast appear (the longer one on a tie): the built-in model cannot pick a
    scene, but a meeting of characters is usually one. Linear in the text."""
    best, best_score = "", (-1, -1)
    for paragraph in PARAGRAPH_RE.split(text):
        words = len(paragraph.split())
        score = (sum(1 for n in names if n in paragraph), min(words, SCENE_WORDS))
        if words and score > best_score:
            best, best_score = paragraph, score
    return " ".join(best.split()[:SCENE_WORDS])


def describe_scene(ctx: AgentContext, chapter, names: list[str]) -> tuple[str, llm.LLMResult | None]:
    passage = busiest_passage(chapter.content, names)
    if not ctx.target.profile.judges:
        return passage, None
    # The passage with its surroundings, bounded, so the model sees the moment and not the whole chapter.
    at = max(0, chapter.content.find(passage.split("\n")[0][:40]))
    start = max(0, len(chapter.content[:at].split()) - DESCRIBE_WORDS // 2)
    window = " ".join(chapter.content.split()[start : start + DESCRIBE_WORDS])
    prompt = render("scene_describe", title=chapter.title, text=window)
    try:
        result = llm.generate([{"role": "user", "content": prompt}], story=ctx.story, temperature=0.4, max_tokens=120)
    except llm.LLMError:
        return passage, None  # the picture matters more than the model's choice of moment
    return (" ".join(result.text.split()) or passage), result


def illustrate(ctx: AgentContext, message: AgentMessage) -> StepResult:
    chapter = ctx.chapter
    if chapter is None or not chapter.content.strip():
        raise making.ImageError("There is nothing in this chapter to illustrate yet.")
    cast = list(ctx.story.characters.all())
    names = [c.name for c in cast]
    scene, result = describe_scene(ctx, chapter, names)
    # Who is in the picture: the cast named in the scene, else the ones the chapter names most.
    present = [c for c in cast if c.name in scene] or sorted(
        (c for c in cast if c.name in chapter.content), key=lambda c: -chapter.content.count(c.name)
    )
    present = present[:PEOPLE_IN_SCENE]
    people = [{"name": c.name, "appearance": appearance_at(ctx.story, c, chapter)} for c in present]
    people = [p for p in people if p["appearance"]]
    style = style_of(ctx.story)
    prompt = render(
        "scene_image", scene=scene, people=people, genre=ctx.story.genre, note=note(ctx),
        style=style["prompt"],
    )  # fmt: skip
    seed = new_seed()
    picture = make(
        ctx, prompt, style["negative"], seed, SCENE_SIZE,
        kind=Picture.Kind.SCENE, chapter=chapter, caption=chapter.title,
    )  # fmt: skip
    output = Illustration(
        picture_id=str(picture.pk) if picture else "", prompt=prompt, characters=[c.name for c in present],
        cancelled=picture is None,
    )  # fmt: skip
    if result is None:
        return StepResult(output)
    return StepResult(output, result.model, result.prompt_tokens, result.completion_tokens)
