"""Grammar and style: the one place that checks a writer's English.

A LanguageTool server (LANGUAGETOOL_URL, via language-tool-python) when one is configured; otherwise Harper, an
offline checker that runs in the process (no Java, no server), so grammar is checked with nothing installed.
Both answer in the same shape, in the story's dialect ("harbour" is right in a British story), and leave alone
the names the story already uses (a character's name is not a misspelling). When the configured server does
not answer, Harper checks instead and the report says so.
"""

import bisect
import threading
from functools import cache

import harper
import requests
from django.conf import settings
from language_tool_python.exceptions import LanguageToolError

from agents.checks.names import WORD_RE as NAME_WORD_RE
from agents.checks.names import base_word, established_names
from core.services import ServiceError
from stories.models import DIALECTS as DIALECT_NAMES
from stories.text import span_markup, spans_blanked

MAX_REPLACEMENTS = 5
DIALECTS = {
    "en-US": harper.Dialect.AMERICAN,
    "en-GB": harper.Dialect.BRITISH,
    "en-AU": harper.Dialect.AUSTRALIAN,
    "en-CA": harper.Dialect.CANADIAN,
    "en-IN": harper.Dialect.INDIAN,
}
# LanguageTool has no Indian English; British spelling is the closest it has.
LANGUAGETOOL_CODES = {"en-IN": "en-GB"}
# What a LanguageTool server that is down, slow or answering nonsense raises.
LANGUAGETOOL_FAILURES = (LanguageToolError, requests.RequestException, OSError, ValueError, KeyError)


@cache
def _tool(url: str, language: str):
    import language_tool_python

    # A remote server: the library neither downloads nor starts LanguageTool itself.
    return language_tool_python.LanguageTool(language, remote_server=url)


class _Harper:
    """One linter per dialect for the process. Building one takes a few tenths of a second and a linter is not
    safe to share between threads, so each is built once and used under its own lock (a 20,000-word chapter
    takes about 0.2 s)."""

    def __init__(self):
        self._linters: dict[str, tuple[harper.Linter, threading.Lock]] = {}
        self._guard = threading.Lock()

    def _linter(self, dialect: str):
        with self._guard:
            if dialect not in self._linters:
                self._linters[dialect] = (harper.Linter(DIALECTS[dialect]), threading.Lock())
            return self._linters[dialect]

    def known(self, words: set[str], dialect: str) -> set[str]:
        """The words Harper's dictionary knows in lower case: "thunder" and "hmm", not "jeremy" or "varyn"."""
        listed = " ".join(sorted(w.lower() for w in words))
        linter, lock = self._linter(dialect)
        with lock:
            lints = linter.lint(listed, language=harper.Language.PLAINTEXT)
        unknown = {listed[lint.span.start : lint.span.end] for lint in lints if lint.lint_kind == "Spelling"}
        return {w for w in words if w.lower() not in unknown}

    def check(self, text: str, dialect: str) -> list[dict]:
        linter, lock = self._linter(dialect)
        with lock:
            lints = linter.lint(text, language=harper.Language.PLAINTEXT)
        return [
            {
                "offset": lint.span.start,
                "length": lint.span.end - lint.span.start,
                "excerpt": lint.problem_text,
                "message": lint.message,
                "rule": lint.lint_kind,
                "category": lint.lint_kind_pretty,
                "replacements": _replacements(lint, text),
            }
            for lint in sorted(lints, key=lambda lint: lint.span.start)
        ]


def _replacements(lint, text: str) -> list[str]:
    """Harper's suggestions as the text that replaces the passage (the editor swaps the passage for it)."""
    out = []
    for suggestion in lint.suggestions[:MAX_REPLACEMENTS]:
        if suggestion.kind == harper.SuggestionKind.REMOVE:
            out.append("")
        elif suggestion.kind == harper.SuggestionKind.INSERT_AFTER:
            out.append(lint.problem_text + suggestion.replacement_text)
        else:
            out.append(suggestion.replacement_text)
    # Harper sometimes offers one word twice, once with a trailing space.
    return list({r.strip() if r.strip() else r: None for r in out})


HARPER = _Harper()


def _languagetool(url: str, text: str, dialect: str) -> list[dict]:
    matches = _tool(url, LANGUAGETOOL_CODES.get(dialect, dialect)).check(text)
    return [
        {
            "offset": m.offset,
            "length": m.error_length,
            "excerpt": text[m.offset : m.offset + m.error_length],
            "message": m.message,
            "rule": m.rule_id,
            "category": m.category,
            "replacements": m.replacements[:MAX_REPLACEMENTS],
        }
        for m in matches
    ]


# Small words that names share with every sentence ("The Order of Gulls"): never taken for the name itself.
NAME_PARTICLES = {"The", "A", "An", "Of", "And", "In", "On", "At", "To", "De", "La", "Le", "Von", "Van"}


def _name_tokens(names: list[str]) -> set[str]:
    """The words the story's names are made of, in lower case, without the particles ("the" is no name)."""
    words = {base_word(w).lower() for name in names for w in NAME_WORD_RE.findall(name)}
    return words - {particle.lower() for particle in NAME_PARTICLES}


def _without_names(matches: list[dict], names: list[str]) -> list[dict]:
    """Drop matches on nothing but the story's own names: "Varyn" and "Ness's" are no misspellings, and "Old Ness"
    is not "OldNess". A match with any other word in it (a repeated word beside a name) stays. Filtered afterwards
    rather than hidden from the checker, which would then see a sentence starting with the word after the name."""
    known = _name_tokens(names)

    def only_names(excerpt: str) -> bool:
        words = [base_word(w).lower() for w in NAME_WORD_RE.findall(excerpt)]
        return bool(words) and all(w in known for w in words)

    return [m for m in matches if not only_names(m["excerpt"])]


def check_grammar(text: str, *, dialect: str = "en-US", names=()) -> dict:
    """{"available", "checker", "note", "matches": [{offset, length, excerpt, message, rule, category,
    replacements}]}; offsets index the str as given. `names` (cast, places) are never reported as misspellings."""
    dialect = dialect if dialect in DIALECTS else "en-US"
    names = [n for n in names if n]
    markup = span_markup(text)  # "[Mr. Smith]{.smallcaps}" is formatting, not a sentence
    text = spans_blanked(text)  # offsets stay the same
    url = settings.LANGUAGETOOL_URL
    note = ""
    if url:
        try:
            matches = _languagetool(url, text, dialect)
            matches = _outside(_without_names(matches, names), markup)
            return {"available": True, "checker": "LanguageTool", "note": "", "matches": matches}
        except LANGUAGETOOL_FAILURES as exc:
            _tool.cache_clear()  # try afresh next time: the server may be back
            note = (
                f"The LanguageTool server at {url} did not answer ({type(exc).__name__}); "
                "checked with the built-in checker instead."
            )
    matches = _outside(_without_names(HARPER.check(text, dialect), names), markup)
    return {"available": True, "checker": "Harper", "note": note, "matches": matches}


def _outside(matches: list[dict], markup: list[tuple[int, int]]) -> list[dict]:
    """The matches that touch no formatting markup (the spaces it leaves are no mistake of the writer's)."""
    if not markup:
        return matches
    starts = [start for start, _ in markup]

    def touches(match) -> bool:
        begin, end = match["offset"], match["offset"] + match["length"]
        index = bisect.bisect_left(starts, end)  # the markup starting before the match ends (sorted, apart)
        return index > 0 and markup[index - 1][1] > begin

    return [m for m in matches if not touches(m)]


def probe_languagetool() -> str:
    """One small real check on the LanguageTool server (for the staff's services page), its errors not hidden."""
    url = settings.LANGUAGETOOL_URL
    try:
        matches = _languagetool(url, "This are a test.", "en-US")
    except LANGUAGETOOL_FAILURES as exc:
        _tool.cache_clear()
        raise ServiceError(f"The LanguageTool server at {url} did not answer ({type(exc).__name__}: {exc}).") from exc
    return f"answered: {len(matches)} suggestion(s) for “This are a test.”"


def story_names(story) -> list[str]:
    """The cast's and the world's names, the world entries' keys (a lorebook's words that call an entry up) and
    the words the writer put in the story's dictionary: the story's own words, never misspellings."""
    if not story.pk:
        return []
    world = story.world_entries.values_list("name", "metadata")
    keys = [key for _, metadata in world for key in (metadata or {}).get("keys", []) if isinstance(key, str)]
    own = story.settings.dictionary
    return [*story.characters.values_list("name", flat=True), *(name for name, _ in world), *keys, *own]


def known_names(story, text: str) -> list[str]:
    """The names grammar leaves alone in `text`: those the story lists (story_names) and those its chapters and
    the text use as names before anyone added them to the cast (established_names: capitalised mid-sentence, never
    in lower case, three uses or more)."""
    chapters = [text, *(story.chapters.values_list("content", flat=True) if story.pk else [])]
    return [*story_names(story), *established_names(chapters)]


def check_story_text(story, text: str) -> dict:
    """check_grammar in the story's dialect, leaving the story's names alone (known_names)."""
    dialect = story.settings.dialect
    names = known_names(story, text)
    return {**check_grammar(text, dialect=dialect, names=names), "dialect": DIALECT_NAMES[dialect]}


def dictionary_words(words: set[str], dialect: str = "en-US") -> set[str]:
    """Which of `words` are ordinary words of the dialect (known in lower case): tells a name that opens a
    sentence ("Jeremy looked") from a word that does ("Thunder rolled")."""
    if not words:
        return set()
    return HARPER.known(words, dialect if dialect in DIALECTS else "en-US")
