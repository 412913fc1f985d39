"""Grammar and style through a LanguageTool server (LANGUAGETOOL_URL), via language-tool-python.

Without a server, or when it does not answer, the report says so plainly and the other checks go on.
Findings keep their character offsets and suggested replacements so the editor can highlight and fix them.
"""

from functools import cache

import requests
from django.conf import settings

MAX_REPLACEMENTS = 5


@cache
def _tool(url: str, language: str):
    import language_tool_python

    # A remote server: the library neither downloads nor starts LanguageTool itself.
    return language_tool_python.LanguageTool(language, remote_server=url)


def check_grammar(text: str) -> dict:
    """{"available": bool, "note": str, "matches": [{offset, length, excerpt, message, rule, category,
    replacements}]}"""
    url = settings.LANGUAGETOOL_URL
    if not url:
        return {"available": False, "note": "Grammar was not checked: no LanguageTool server is configured "
                "(set LANGUAGETOOL_URL).", "matches": []}  # fmt: skip
    from language_tool_python.exceptions import LanguageToolError

    try:
        matches = _tool(url, settings.LANGUAGETOOL_LANGUAGE).check(text)
    except (LanguageToolError, requests.RequestException, OSError, ValueError, KeyError) as exc:
        _tool.cache_clear()  # try afresh next time: the server may be back
        return {"available": False, "note": f"Grammar was not checked: the LanguageTool server at {url} did not "
                f"answer ({type(exc).__name__}).", "matches": []}  # fmt: skip
    return {
        "available": True,
        "note": "",
        "matches": [
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
        ],
    }
