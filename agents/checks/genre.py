"""How well a draft fits the story's genre and tone: a 1-5 judgement by the model, a warning at or below
QA_GENRE_WARN_AT_OR_BELOW. Not asked of a model that cannot judge (agents/services/capabilities.py)."""

from django.conf import settings

from agents.services import llm
from agents.services.prompting import answer_json, render
from agents.team.messages import Finding, fingerprint


def genre_findings(story, text: str, ignored=frozenset()) -> tuple[list[Finding], dict]:
    """A short judgement of how well the draft fits the story's genre and tone."""
    if not story.genre.strip() or not text.strip():
        return [], {}
    profile = llm.resolve(story=story).profile
    if not profile.judges:  # a score from a model that cannot judge would be noise, and costs seconds
        return [], {"answered": False, "skipped": f"{profile.who} cannot judge genre and tone"}
    prefs = story.settings
    prompt = render(
        "genre_check", genre=story.genre, tone=prefs.tone, pov=prefs.pov.replace("_", " ") + " person",
        tense=prefs.tense, text=text[: settings.QA_GENRE_EXCERPT_CHARS],
    )  # fmt: skip
    try:
        result = llm.generate([{"role": "user", "content": prompt}], story=story, temperature=0, max_tokens=120)
    except llm.LLMError as exc:
        return [], {"answered": False, "error": str(exc)}
    data = answer_json(result.text) or {}
    try:
        score = int(data.get("score"))
    except (ValueError, TypeError):
        return [], {"answered": False}
    if not 1 <= score <= 5:
        return [], {"answered": False}
    note = str(data.get("note", ""))[:300]
    report = {"answered": True, "score": score, "note": note}
    key = fingerprint("genre", story.genre)
    if score > settings.QA_GENRE_WARN_AT_OR_BELOW or key in ignored:
        return [], report
    message = f"Reads as a weak fit for {story.genre} ({score}/5). {note}".strip()
    return [Finding(check="genre", severity="warn", message=message, fingerprint=key)], report
