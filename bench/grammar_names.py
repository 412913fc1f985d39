"""Grammar suggestions on the story's own names: before (the checker alone) and after (the app's check, which
knows the story's names), per 10,000 words.

    .venv/bin/python bench/grammar_names.py

On the demo story (its cast, world and lorebook keys) and on text nobody here wrote: the long stories and the
ContraDoc summaries in ../shared/eval/continuity/, which come with no cast, so the names are those the app finds
in them (agents/checks/grammar.known_names: capitalised mid-sentence, never in lower case, three uses or more).
Each story is one story in the app (a throwaway account, removed at the end) with its text as one chapter.

A suggestion touches a name when a word of its excerpt is one of those names. "Names only" suggestions (the
excerpt is nothing but names: "Ness's", "Old Ness" → "OldNess") are the false positives; the target after is 0.
Suggestions on one capitalised word the story does not know as a name are counted too: a name used once or twice
(which the writer adds with "Add to this story's dictionary") or a real slip.
Short suggestions with a name and other words ("Mara Mara", a name beside a real slip: three words at most) are
kept and reported apart; a long excerpt (a sentence too long) is not about the names in it.
"""

import json
import time
from pathlib import Path

from common import ROOT, setup_django, write_result

EVAL = ROOT.parent / "shared" / "eval" / "continuity"


def touching(matches, names) -> dict:
    from agents.checks.grammar import _name_tokens
    from agents.checks.names import WORD_RE, base_word

    known = _name_tokens(names)
    only, mixed, unknown = 0, 0, 0
    for match in matches:
        found = WORD_RE.findall(match["excerpt"])
        words = [base_word(w).lower() for w in found]
        # One capitalised word the story does not know as a name: a name used once or twice, or a real slip.
        unknown += len(found) == 1 and found[0][:1].isupper() and words[0] not in known
        named = [w for w in words if w in known]
        if named and len(named) == len(words):
            only += 1
        elif named and len(words) <= 3:  # a long excerpt (a sentence too long) is not about the name in it
            mixed += 1
    return {"names_only": only, "name_and_other_words": mixed, "one_capitalised_word_not_known": unknown}


def measure(story) -> dict:
    """(words, before, after) for one story, every chapter checked as the editor checks it."""
    from agents.checks.grammar import HARPER, check_story_text, known_names

    chapters = list(story.chapters.values_list("content", flat=True))
    names = known_names(story, "")
    dialect = story.settings.dialect
    keys = ("names_only", "name_and_other_words", "one_capitalised_word_not_known")
    before, after = dict.fromkeys(keys, 0), dict.fromkeys(keys, 0)
    words = 0
    for text in chapters:
        words += len(text.split())
        for totals, matches in (
            (before, HARPER.check(text, dialect)),
            (after, check_story_text(story, text)["matches"]),
        ):
            for key, value in touching(matches, names).items():
                totals[key] += value
    return {"words": words, "names": len(set(names)), "before": before, "after": after}


def per_10k(rows: list[dict]) -> dict:
    words = sum(r["words"] for r in rows)
    figures = {"stories": len(rows), "words": words}
    for side in ("before", "after"):
        for key in ("names_only", "name_and_other_words", "one_capitalised_word_not_known"):
            figures[f"{side}_{key}_per_10k_words"] = round(10_000 * sum(r[side][key] for r in rows) / words, 2)
    return figures


def main():
    setup_django()
    from core.models import User
    from stories.models import Chapter, Story
    from storyassistant.management.demo_story import create_demo_story

    email = f"grammar-names-{int(time.time())}@bench.invalid"
    user = User.objects.create_user(email=email, password=None)
    figures = {}
    try:
        started = time.perf_counter()
        demo = measure(create_demo_story(user))
        figures["demo"] = {**per_10k([demo]), "raw": demo}
        for name, path in (("constory_long", EVAL / "constory_long_silver.jsonl"),
                           ("contradoc", EVAL / "contradoc_stories.jsonl")):  # fmt: skip
            rows = []
            for line in Path(path).read_text().splitlines():
                item = json.loads(line)
                story = Story.objects.create(owner=user, title=item["id"][:200])
                Chapter.objects.create(story=story, order=1, title="One", content=item["story"])
                rows.append(measure(story))
            figures[name] = per_10k(rows)
        figures["seconds"] = round(time.perf_counter() - started, 1)
    finally:
        User.objects.filter(email=email).delete()
    for name in ("demo", "constory_long", "contradoc"):
        f = figures[name]
        print(f"{name}: {f['stories']} stories, {f['words']} words; suggestions on names only per 10,000 words: "
              f"{f['before_names_only_per_10k_words']} before, {f['after_names_only_per_10k_words']} after "
              f"(a name and other words: {f['before_name_and_other_words_per_10k_words']} before, "
              f"{f['after_name_and_other_words_per_10k_words']} after; one capitalised word the story does not "
              f"know: {f['after_one_capitalised_word_not_known_per_10k_words']} after)")  # fmt: skip
    figures["targets"] = {
        "no_suggestions_on_names_only_after": all(
            figures[n]["after_names_only_per_10k_words"] == 0 for n in ("demo", "constory_long", "contradoc")
        )  # fmt: skip
    }
    print(f"targets: {figures['targets']}")
    print(f"written to {write_result('grammar_names', figures)}")


if __name__ == "__main__":
    main()
