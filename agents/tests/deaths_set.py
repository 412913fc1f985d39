"""The dead-acting rule's labelled set (data/deaths.json), read and scored one way for the tests and for
bench/continuity.py."""

import json
from pathlib import Path

from agents.checks import deaths
from agents.checks.names import person_words

DATA = Path(__file__).parent / "data" / "deaths.json"
TITLES = {"Old", "Mother", "Captain"}  # words of the cast's names that are ordinary words too


def outcome() -> dict:
    """Each labelled case through the rule: the deaths it missed and the quiet cases it flagged."""
    data = json.loads(DATA.read_text())
    people = person_words(data["cast"], dictionary=lambda words: TITLES)

    def slip(case: dict) -> bool:
        return bool(deaths.slips(case["later"], [case["earlier"]], people))

    return {
        "slips": len(data["slips"]), "clean": len(data["clean"]),
        "missed": [case["earlier"] for case in data["slips"] if not slip(case)],
        "alarms": [case["earlier"] for case in data["clean"] if slip(case)],
    }  # fmt: skip
