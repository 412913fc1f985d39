"""The voice-consistency score on labelled lines: are two sets of one character's lines closer to each other than
to other characters' lines?

    .venv/bin/python bench/voices.py

Two labelled sets, reported separately:
  - the project's own: six characters written with clearly different voices, twelve lines each
    (agents/tests/data/voices.json), first six against last six;
  - ConStory (../shared/eval/continuity/constory_long_silver.jsonl): quoted lines attributed to a speaker when
    their paragraph names exactly one of the story's speakers; each speaker's first half of lines against the
    second half, and against other speakers of the same story. Written by one model, so the voices are close.
For each: AUC (a same-character pair scoring above a different-character pair), how often a character's own
earlier lines are the closest of all, and the gap the flag uses (own similarity below the closest other's).
"""

import json
import re
import statistics
import sys
from collections import Counter

from common import ROOT, write_result

sys.path.insert(0, str(ROOT))
from agents.checks.voices import WEIGHTS, lines_by_speaker, similarity  # noqa: E402

CONSTORY = ROOT.parent / "shared" / "eval" / "continuity" / "constory_long_silver.jsonl"
SPEAKER_RE = re.compile(r"[\"”],?\s+([A-Z][a-z]+)\s+(?:said|asked|replied|whispered|shouted|called|murmured)")
MIN_LINES = 8


def measure(groups: list[dict[str, tuple[list[str], list[str]]]]) -> dict:
    """groups: per story, speaker -> (first dialogue, second dialogue)."""
    same, different, identified, flagged, speakers = [], [], 0, 0, 0
    for speakers_lines in groups:
        names = list(speakers_lines)
        for name in names:
            first, second = speakers_lines[name]
            own = similarity(first, second)
            others = {o: similarity(first, speakers_lines[o][1]) for o in names if o != name}
            same.append(own)
            different += others.values()
            speakers += 1
            if others and own > max(others.values()):
                identified += 1
            if others and own < max(others.values()):
                flagged += 1
    pairs = [(s, d) for s in same for d in different]
    auc = sum((s > d) + 0.5 * (s == d) for s, d in pairs) / len(pairs) if pairs else None
    return {
        "speakers": speakers, "auc": round(auc, 3) if auc is not None else None,
        "own_closest": f"{identified}/{speakers}", "flagged_although_same_voice": f"{flagged}/{speakers}",
        "same_mean": round(statistics.mean(same), 3), "different_mean": round(statistics.mean(different), 3),
    }  # fmt: skip


def own_set() -> list[dict]:
    data = json.loads((ROOT / "agents/tests/data/voices.json").read_text())["characters"]
    return [{name: (lines[:6], lines[6:]) for name, lines in data.items()}]


def constory() -> list[dict]:
    groups = []
    for row in map(json.loads, CONSTORY.read_text().splitlines()):
        story = row["story"]
        names = [n for n, c in Counter(SPEAKER_RE.findall(story)).most_common(8) if c >= 3]
        lines = {n: ls for n, ls in lines_by_speaker(story, names).items() if len(ls) >= MIN_LINES}
        if len(lines) >= 2:
            groups.append({n: (ls[: len(ls) // 2], ls[len(ls) // 2 :]) for n, ls in lines.items()})
    return groups


def main():
    figures = {"weights": WEIGHTS, "own_set": measure(own_set())}
    if CONSTORY.exists():
        figures["constory"] = measure(constory())
    for name, result in figures.items():
        print(name, result)
    print(f"written to {write_result('voices', figures)}")


if __name__ == "__main__":
    main()
