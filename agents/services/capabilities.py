"""What a model can be trusted with, so the creative director plans for the model it has.

Three kinds of model:
  built-in  SmolLM2-135M: writes short drafts, loops when it writes long, cannot judge, read facts or rewrite to a
            critique (it answers valid JSON full of invented facts). Checks are rules and grammar only.
  small     a configured model the site declares small (LLM_MODEL_PROFILES) or that failed the self-test: the same
            limits on judging and rewriting, its own sampling and length.
  capable   any other configured model: nothing is skipped.

A configured model is what LLM_MODEL_PROFILES declares ("llama3.2:1b=small,qwen2.5:14b=capable"), else what the
self-test on the staff's Services page measured (a few small questions with known answers, agents/prompts/
self_test.json), else capable: a site that points at a server chose its model on purpose.
"""

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from django.conf import settings

from agents.models import ModelProfile
from agents.services.prompting import PROMPTS, answer_json

SELF_TEST = PROMPTS / "self_test.json"


@dataclass(frozen=True)
class Profile:
    kind: str  # built-in, small or capable
    who: str  # how the plan and the reports name the model ("the built-in model")
    judges: bool  # judge facts and characters, read notes and chapters into structured answers
    rewrites: bool  # rewrite a draft to a critique
    draft_words: int | None = None  # the longest draft it holds without looping (None: as long as the window allows)
    # Sampling for prose (not for JSON answers): what keeps a small model from looping.
    prose_sampling: dict = field(default_factory=dict)
    source: str = ""  # where the profile comes from, for the Services page

    def limits(self) -> str:
        """One line for the plan: what is skipped with this model and why (empty for a capable one)."""
        if self.kind == "capable":
            return ""
        said = [f"drafts of up to {self.draft_words} words"] if self.draft_words else []
        said += ["checks by rules and grammar only (no model judge)", "a failing draft is not rewritten"]
        return f"With {self.who}: {', '.join(said)}; a capable model does all of it"


BUILT_IN = Profile(
    kind="built-in", who="the built-in model", judges=False, rewrites=False,
    # Longer drafts loop and take minutes on two cores (bench/first_hour.py measures what this gives).
    draft_words=400,
    # llama.cpp's repetition penalty plus blocking any 8-token run already in the prompt or the answer.
    prose_sampling={"repeat_penalty": 1.15, "no_repeat_ngram": 8},
    source="the built-in model (SmolLM2-135M)",
)  # fmt: skip
CAPABLE = Profile(kind="capable", who="this model", judges=True, rewrites=True, source="")


def small(model: str, source: str) -> Profile:
    return Profile(kind="small", who=f"the small model {model}", judges=False, rewrites=False,
                   prose_sampling={"repeat_penalty": 1.1}, source=source)  # fmt: skip


def declared(model: str) -> str:
    """What LLM_MODEL_PROFILES says of a model: "small", "capable" or ""."""
    return settings.LLM_MODEL_PROFILES.get(model, "")


def profile(target) -> Profile:
    """The profile of a resolved target (agents/services/llm.Target)."""
    if target.built_in:
        return BUILT_IN
    said = declared(target.model)
    if said == "small":
        return small(target.model, "declared small in LLM_MODEL_PROFILES")
    if said == "capable":
        return replace(CAPABLE, source="declared capable in LLM_MODEL_PROFILES")
    measured = ModelProfile.objects.filter(provider=target.provider.name, model=target.model).first()
    if measured is None:
        return replace(CAPABLE, source="not measured: treated as capable")
    if not measured.capable:
        return small(target.model, measured.summary())
    return replace(CAPABLE, source=measured.summary())


def self_test_cases() -> list[dict]:
    return json.loads(Path(SELF_TEST).read_text())["cases"]


def passes(case: dict, answer: str) -> bool:
    """Whether an answer to a self-test case is right: its JSON has the expected value (names compared as sets,
    case-insensitive)."""
    data = answer_json(answer) or {}
    expected, got = case["expected"], data.get(case["field"])
    if isinstance(expected, list):
        return isinstance(got, list) and {str(g).strip().lower() for g in got} == {e.lower() for e in expected}
    return got == expected


def record(target, answers: list[dict]) -> ModelProfile:
    passed = sum(answer["right"] for answer in answers)
    measured, _ = ModelProfile.objects.update_or_create(
        provider=target.provider.name, model=target.model,
        defaults={"capable": passed == len(answers), "passed": passed, "asked": len(answers), "answers": answers},
    )  # fmt: skip
    return measured
