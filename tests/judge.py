"""A deterministic stand-in for a capable LLM judge, served by the local Ollama/OpenAI test servers.

It reads the consistency prompt the app sends (subject, EARLIER, NEW), extracts facts from both sides with a
small vocabulary of attributes (eye and hair colour, age, build, alive or dead, swimming, handedness, voice,
temper, whether a place still stands), synonyms included, and answers in the JSON the prompt asks for. It knows
nothing of the labelled set: what it measures is everything around the judge — retrieval, the similarity gate,
the prompt, parsing, fingerprints and thresholds.
"""

import json
import re

COLOURS = {
    "green": ("green", "emerald", "jade"),
    "blue": ("blue", "azure", "sapphire", "cornflower"),
    "brown": ("brown", "chestnut", "hazel"),
    "grey": ("grey", "gray", "slate", "steel"),
    "black": ("black", "raven", "jet", "ebony"),
    "blond": ("blond", "blonde", "golden", "flaxen", "fair"),
    "red": ("red", "auburn", "copper", "ginger"),
}
COLOUR_OF = {word: colour for colour, words in COLOURS.items() for word in words}
COLOUR_WORDS = "|".join(COLOUR_OF)
NUMBERS = {
    "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
}  # fmt: skip
# attribute -> {value: patterns}; the first pattern that matches a text gives its value.
STATES = {
    "build": {
        "tall": r"\btall\b|\btowering\b|\bbroad\b|\bstoop under\b",
        "short": r"\bshort\b|\bsmall\b|\bslight\b|\bwiry\b|\bdiminutive\b",
    },
    "alive": {
        "dead": r"\bdied\b|\bdead\b|\bkilled\b|\bburied\b|\bgrave\b|\bwidow\b",
        "alive": r"\bsaid\b|\bwhispered\b|\blaughed\b|\bshuffling\b|\bhanded\b|\bsmiled\b|\bshouted\b|\blives\b",
    },
    "swimming": {
        "cannot swim": r"cannot swim|can't swim|never learned to swim",
        "swims": r"\bswam\b|\bswims\b|\bswimmer\b",
    },
    "handedness": {"left-handed": r"left-handed", "right-handed": r"right-handed"},
    "voice": {
        "quiet": r"soft-spoken|soft voice|spoke quietly|never raises her voice|never raises his voice",
        "loud": r"bellowed|booming|shouted",
    },
    "temper": {"calm": r"\bcalm\b|\bpatient\b", "hot-tempered": r"hot-tempered|threw the"},
    "standing": {
        "destroyed": r"destroyed|collapsed|burned to the ground|ruins|ashes|razed|burned\b",
        "standing": r"climbed|crossed|lit the|chimney|entered|walked into",
    },
}


def facts(text: str) -> dict[str, tuple[str, str]]:
    """attribute -> (normalised value, the words of the text that state it)."""
    lower = text.lower()
    found = {}
    for part in ("eye", "hair"):
        match = (
            re.search(rf"\b({COLOUR_WORDS})\b(?:[\s-]+\w+)?[\s-]+{part}s?", lower)
            or re.search(rf"{part}s? (?:were|was|are|is) the (?:colou?r )?(?:of )?(?:a |an )?({COLOUR_WORDS})", lower)
            or (part == "eye" and re.search(rf"({COLOUR_WORDS}) gaze", lower))
        )
        if match:
            found[f"{part} colour"] = (COLOUR_OF[match.group(1)], match.group())
    age = re.search(r"\b(\d+|" + "|".join(NUMBERS) + r")[\s-]+years?[\s-]+old", lower)
    if age:
        found["age"] = (str(NUMBERS.get(age.group(1), age.group(1))), age.group())
    for attribute, values in STATES.items():
        for value, pattern in values.items():
            if match := re.search(pattern, lower):
                found[attribute] = (value, match.group())
                break
    return found


def about(subject: str, text: str) -> str:
    """The sentences of the text that name the subject (all of it if none does), as a reader would focus."""
    named = [s for s in re.findall(r"[^.!?]+[.!?]?", text) if subject.lower() in s.lower()]
    return " ".join(named) or text


def consistency_reply(prompt: str) -> str:
    subject = re.search(r"the NEW text say about (.*?)\.\n", prompt).group(1)
    subject = re.sub(r"^the ", "", subject, flags=re.I)
    earlier = re.search(r"^EARLIER \(.*?\): (.*)$", prompt, re.M).group(1)
    new = re.search(r"^NEW: (.*)$", prompt, re.M).group(1)
    before, after = facts(about(subject, earlier)), facts(about(subject, new))
    comparisons = [
        {"attribute": a, "earlier": before[a][1], "new": after[a][1], "contradiction": before[a][0] != after[a][0]}
        for a in before
        if a in after
    ]
    return json.dumps({"comparisons": comparisons})


PAIR_RE = re.compile(r"^PAIR (\d+) \(about (.*?)\)\nEARLIER \(.*?\): (.*)\nNEW: (.*)$", re.M)


def batch_reply(prompt: str) -> str:
    """Several pairs in one prompt: the contradictions among them, by pair number."""
    found = []
    for number, subject, earlier, new in PAIR_RE.findall(prompt):
        subject = re.sub(r"^the ", "", subject, flags=re.I)
        before, after = facts(about(subject, earlier)), facts(about(subject, new))
        found += [
            {"pair": int(number), "attribute": a, "earlier": before[a][1], "new": after[a][1]}
            for a in before
            if a in after and before[a][0] != after[a][0]
        ]
    return json.dumps({"contradictions": found})


def reply(body: dict) -> str:
    """The answer to an Ollama or OpenAI chat request: judgements for the judge's prompts, else plain prose."""
    prompt = body["messages"][-1]["content"]
    if "Each PAIR below" in prompt:
        return batch_reply(prompt)
    if "You check a story for continuity errors" in prompt:
        return consistency_reply(prompt)
    if "Score it from 1" in prompt:
        return json.dumps({"score": 4, "note": "Fits the genre."})
    if "You keep the continuity notes" in prompt:
        chapter = prompt.rsplit("\n", 1)[-1]
        return json.dumps({"summary": chapter[:200], "plot_points": [{"text": chapter[:200], "importance": 6}]})
    return "The tide came in slowly over the flats, and the gulls went quiet."
