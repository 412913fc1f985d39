"""A capable model confirms a story's pattern candidates: one structured-output call per reading, each candidate
with the passage most like it, answering whether the passage uses the pattern and quoting the sentence that shows
it. A quote not found in its passage counts as no confirmation (small models copy sentences nobody wrote)."""

from django.conf import settings
from pydantic import BaseModel, ValidationError

from agents.memory.facts import locate
from agents.services import llm
from agents.services.prompting import answer_json, render

SCHEMA = {
    "type": "object",
    "properties": {
        "patterns": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": {"type": "string"}, "present": {"type": "boolean"}, "quote": {"type": "string"}},
                "required": ["key", "present", "quote"],
            },
        }
    },
    "required": ["patterns"],
}


class Verdict(BaseModel):
    key: str
    present: bool
    quote: str = ""


class Answer(BaseModel):
    patterns: list[Verdict]


def can_judge(story) -> tuple[bool, str]:
    """Whether the story's model can judge patterns, and how it is named."""
    profile = llm.resolve(story=story).profile
    return profile.judges, profile.who


class Unreadable(Exception):
    """The model answered, but not with verdicts."""


def confirm(story, candidates: list[tuple]) -> tuple[dict[str, str], str]:
    """{key: quote} for the candidates the model judged: the sentence of the passage that shows the pattern, or
    "" when it found the pattern absent (or quoted words the passage does not hold); a candidate it left out of its
    answer is not in the dict. Also the model's name. `candidates` are (trope, passage text) pairs. Raises
    llm.LLMError when the model does not answer, Unreadable when its answer is not verdicts."""
    shown = [
        {"key": t.key, "name": t.name, "description": t.description, "passage": p[: settings.PATTERN_JUDGE_CHARS]}
        for t, p in candidates
    ]
    result = llm.generate(
        [{"role": "user", "content": render("trope_judge", candidates=shown)}],
        story=story, temperature=0, max_tokens=settings.PATTERN_JUDGE_MAX_TOKENS, schema=SCHEMA,
    )  # fmt: skip
    try:
        answer = Answer.model_validate(answer_json(result.text) or {})
    except ValidationError:
        raise Unreadable(f"{result.model} answered something other than the verdicts asked for") from None
    passages = {c["key"]: c["passage"] for c in shown}
    verdicts = {}
    for verdict in answer.patterns:
        if verdict.key not in passages:
            continue
        quote = verdict.quote.strip()
        confirmed = verdict.present and len(quote) >= 10 and locate(quote, passages[verdict.key]) is not None
        verdicts[verdict.key] = quote if confirmed else ""
    return verdicts, result.model
