"""The director reads the writer's note: a capable model turns it into an Intent (structured output under a JSON
schema), which is validated against the story before the plan uses it. Whenever that cannot be done (no note,
the built-in model, a failed call, an answer that does not validate) the plan is the usual one for the mode,
and the reason says why."""

from pydantic import ValidationError

from agents.services import llm
from agents.services.prompting import answer_json, render
from agents.team.base import AgentContext
from agents.team.messages import Intent

SCHEMA = {
    "type": "object",
    "properties": {
        "target_words": {"type": ["integer", "null"]},
        "characters": {"type": "array", "items": {"type": "string"}},
        "retrieve": {"type": "string"},
        "world": {"type": "boolean"},
        "check": {"type": "boolean"},
        "reason": {"type": "string"},
    },
    "required": ["target_words", "characters", "retrieve", "world", "check", "reason"],
}
MAX_TOKENS = 300


def interpret(ctx: AgentContext, default_words: int) -> tuple[Intent | None, str, llm.LLMResult | None]:
    """The writer's note as an Intent, or None with the reason the usual plan is used."""
    note = ctx.request.note.strip()
    if not note:
        return None, "no note to read", None
    if not ctx.target.profile.judges:
        return None, f"{ctx.target.profile.who} cannot read a note into a plan (a capable model can)", None
    cast = list(ctx.story.characters.values_list("name", flat=True))
    prompt = render("director_plan", mode=ctx.mode_label, note=note, cast=cast, default_words=default_words)
    try:
        result = llm.generate(
            [{"role": "user", "content": prompt}], story=ctx.story, temperature=0, max_tokens=MAX_TOKENS, schema=SCHEMA
        )
    except llm.LLMError as exc:
        return None, f"the model could not read the note ({exc})", None
    try:
        intent = Intent.model_validate(answer_json(result.text) or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        return None, f"the model's reading of the note was not valid ({problems})", result
    # Only names of this story's cast, spelled as the cast spells them.
    by_lower = {name.lower(): name for name in cast}
    names = [by_lower[name.strip().lower()] for name in intent.characters if name.strip().lower() in by_lower]
    return intent.model_copy(update={"characters": list(dict.fromkeys(names))}), intent.reason, result
