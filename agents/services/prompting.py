"""Prompts are template files in agents/prompts/, rendered with Django's template language (no HTML escaping)."""

import json
import re
from functools import cache
from pathlib import Path

from django.template import Context, Engine

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"  # agents/prompts: every role has its prompts there
JSON_OBJECT_RE = re.compile(r"\{.*\}", re.S)


@cache
def _engine() -> Engine:
    return Engine(dirs=[str(PROMPTS)], autoescape=False, libraries={})


def render(name: str, **context) -> str:
    """Render agents/prompts/<name>.md; blank runs of lines collapse so optional sections leave no gaps."""
    text = _engine().get_template(f"{name}.md").render(Context(context))
    lines, blank = [], 0
    for line in text.strip().splitlines():
        blank = blank + 1 if not line.strip() else 0
        if blank <= 1:
            lines.append(line.rstrip())
    return "\n".join(lines)


def answer_json(text: str) -> dict | None:
    """The JSON object a prompt asked for, from a model's answer (models often wrap it in prose), or None."""
    match = JSON_OBJECT_RE.search(text or "")
    if not match:
        return None
    try:
        data = json.loads(match.group())
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
