"""A local server answering LanguageTool's /v2/check like LanguageTool does, with a tiny rule set."""

import re

# A tiny rule set the test server applies, answering in LanguageTool's /v2/check format.
RULES = [
    (re.compile(r"\bteh\b"), "MORFOLOGIK_RULE_EN_US", "TYPOS", "Possible spelling mistake found.", ["the"]),
    (re.compile(r"\b(\w+) \1\b"), "ENGLISH_WORD_REPEAT_RULE", "MISC", "Possible typo: you repeated a word.", []),
]


def utf16_offset(text: str, index: int) -> int:
    """LanguageTool runs on Java and counts UTF-16 code units; the client converts back."""
    return len(text[:index].encode("utf-16-le")) // 2


def serve_languagetool(local_server, settings):
    @local_server.route("GET", "/v2/languages")
    def languages(request):
        return (
            200,
            {},
            [
                {"name": "English (US)", "code": "en", "longCode": "en-US"},
                {"name": "English (GB)", "code": "en", "longCode": "en-GB"},
            ],
        )

    @local_server.route("POST", "/v2/check")
    def check(request):
        form = request.form()
        text = form["text"]
        matches = []
        for pattern, rule, category, message, replacements in RULES:
            for m in pattern.finditer(text):
                matches.append({
                    "message": message, "shortMessage": "", "replacements": [{"value": r} for r in replacements],
                    "offset": utf16_offset(text, m.start()), "length": len(m.group()),
                    "context": {"text": text[max(0, m.start() - 20) : m.end() + 20], "offset": 0,
                                "length": len(m.group())},
                    "sentence": text, "type": {"typeName": "Other"},
                    "rule": {"id": rule, "description": message, "issueType": "misspelling",
                             "category": {"id": category, "name": category}},
                })  # fmt: skip
        matches.sort(key=lambda match: match["offset"])
        language = {"name": "English (US)", "code": form.get("language")}
        return (
            200,
            {},
            {"software": {"name": "LanguageTool", "version": "6.5"}, "language": language, "matches": matches},
        )

    settings.LANGUAGETOOL_URL = local_server.url
    return local_server
