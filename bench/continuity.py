"""The continuity check on text nobody here wrote (../shared/eval/continuity/, labelled by others).

ContraDoc stories (23 with one human-verified contradiction, 21 clean), each split at its middle sentence into an
earlier chapter and the chapter being checked, go through the check a writer runs (a CHECK task, in this
process) and through its candidate pairing alone:
- candidate recall, independent of the judge: does the labelled contradicting sentence reach the judge (as the
  checked sentence, or as the earlier text when it lies earlier), within 20 judge calls per 1,000 words of the
  checked chapter (CONTINUITY_CHECK_PAIRS_PER_CALL pairs a call), and within the product's cap
  (CONTINUITY_CHECK_MAX_CALLS), with the calls that takes;
- flagged and cited: stories with an error where a finding quotes the labelled sentence; false alarms: clean
  stories with any contradiction finding. On the configured model (the embedded SmolLM2 unless LLM_PROVIDER /
  OLLAMA_HOST say otherwise).
Name slips (drifts and stand-ins) on the five long ConStory stories (four labelled), with the others it reports
per 10,000 words (those labels are an LLM judge's and incomplete: other slips may be real), and what it reports on
the ContraDoc stories and the demo story, where no name slip is known. Eye and hair colours and the dead acting
(no model) on the project's labelled pairs, the ContraDoc stories and the long stories.

A long story (--long-words, 100,000 by default, in chapters of 5,000 words) times one check of its last chapter
as a writer runs it, with the judge calls it makes and the share of the time spent outside the model.

.venv/bin/python bench/continuity.py [--no-judge] [--stories N] [--long-words N | --no-long]
"""

import argparse
import json
import re
import time
from pathlib import Path

from common import ROOT, paragraphs, percentile, setup_django, write_result

DATA = ROOT.parent / "shared" / "eval" / "continuity"
CALLS_PER_1000_WORDS = 20


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in Path(DATA / name).read_text().splitlines() if line.strip()]


def split(story: str) -> tuple[str, str]:
    from agents.checks.text import sentences

    found = sentences(story)
    middle = found[len(found) // 2][0]
    return story[:middle].rstrip(), story[middle:]


def overlaps(a: str, b: str) -> bool:
    """Two sentences as split by different tools: one holds most of the other."""
    a, b = " ".join(a.split()), " ".join(b.split())
    short, long = sorted((a, b), key=len)
    return bool(short) and (short in long or short[: max(40, len(short) * 2 // 3)] in long)


def build(user, item: dict):
    from agents.memory import store as memory
    from stories.models import Chapter, Story

    earlier, new = split(item["story"])
    story = Story.objects.create(owner=user, title=item["id"])
    first = Chapter.objects.create(story=story, order=1, title="Before", content=earlier)
    second = Chapter.objects.create(story=story, order=2, title="After", content=new)
    memory.sync_chapter(first)
    return story, second, earlier, new


def reaches_judge(pairs, quote: str, in_earlier: bool) -> bool:
    if in_earlier:
        return any(overlaps(quote, p.earlier.text) or overlaps(p.earlier.text, quote) for p in pairs)
    return any(overlaps(quote, p.new) for p in pairs)


def contradoc(user, items, judge: bool) -> dict:
    from django.conf import settings

    from agents.checks import consistency
    from generation.dispatch import start_generation
    from generation.models import GenerationTask
    from generation.tasks import run_generation

    rows = []
    for item in items:
        story, chapter, earlier, new = build(user, item)
        words = len(new.split())
        quote = (item["error"] or {}).get("contradicting_quote")
        row = {"id": item["id"], "has_error": item["has_error"], "new_words": words}
        if quote:
            in_earlier = quote in earlier
            batch = settings.CONTINUITY_CHECK_PAIRS_PER_CALL
            budget = max(1, CALLS_PER_1000_WORDS * words // 1000)
            at_budget = consistency.candidate_pairs(story, new, chapter, limit=budget * batch, within=True)
            cap = settings.CONTINUITY_CHECK_MAX_CALLS * batch
            at_cap = consistency.candidate_pairs(story, new, chapter, limit=cap, within=True)
            row |= {
                "label_in_earlier_chapter": in_earlier,
                "reached_judge_at_20_per_1000": reaches_judge(at_budget, quote, in_earlier),
                "calls_at_20_per_1000": -(-len(at_budget) // batch),
                "reached_judge_at_cap": reaches_judge(at_cap, quote, in_earlier),
                "calls_at_cap": -(-len(at_cap) // batch),
            }
        if judge:
            started = time.perf_counter()
            task = start_generation(user, story, GenerationTask.Mode.CHECK, {}, chapter=chapter)
            run_generation(str(task.pk))
            task.refresh_from_db()
            report = task.quality
            facts = [f for f in report.findings if f.check in ("character_consistency", "continuity")]
            row |= {
                "seconds": round(time.perf_counter() - started, 2),
                "status": task.status,
                "judged": len(report.consistency.get("judged", [])),
                "calls": report.consistency.get("calls", 0),
                "flagged": bool(facts),
                "cited": bool(quote)
                and any(overlaps(quote, f.evidence) or (f.earlier and overlaps(quote, f.earlier.text)) for f in facts),
            }
        rows.append(row)
        print(json.dumps(row))
    errors = [r for r in rows if r["has_error"]]
    clean = [r for r in rows if not r["has_error"]]
    words = sum(r["new_words"] for r in errors) or 1
    figures = {
        "stories_with_error": len(errors),
        "clean_stories": len(clean),
        "label_in_earlier_chapter": sum(r["label_in_earlier_chapter"] for r in errors),
        "candidate_recall_at_20_calls_per_1000_words": round(
            sum(r["reached_judge_at_20_per_1000"] for r in errors) / max(len(errors), 1), 3
        ),
        "candidate_recall_at_cap": round(sum(r["reached_judge_at_cap"] for r in errors) / max(len(errors), 1), 3),
        "judge_calls_per_1000_words_at_20_per_1000": round(
            1000 * sum(r["calls_at_20_per_1000"] for r in errors) / words, 1
        ),
        "judge_calls_per_1000_words_at_cap": round(1000 * sum(r["calls_at_cap"] for r in errors) / words, 1),
    }
    if judge:
        figures |= {
            "flagged_and_cited": round(sum(r["cited"] for r in errors) / max(len(errors), 1), 3),
            "flagged_any_finding_on_error_stories": round(sum(r["flagged"] for r in errors) / max(len(errors), 1), 3),
            "false_alarms_on_clean": round(sum(r["flagged"] for r in clean) / max(len(clean), 1), 3),
            "judge_calls_per_1000_words": round(
                1000 * sum(r["calls"] for r in rows) / sum(r["new_words"] for r in rows), 1
            ),
            "seconds_per_check_p50": percentile([r["seconds"] for r in rows], 50),
            "seconds_per_check_p95": percentile([r["seconds"] for r in rows], 95),
            "failed_checks": sum(r["status"] != "succeeded" for r in rows),
        }
    return {"figures": figures, "stories": rows}


def named(name: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def name_slips(text: str, earlier=(), known=()) -> list[tuple[str, str, int, int]]:
    """(name used, name meant, uses of each) for every drift and stand-in the check reports."""
    from agents.checks.grammar import dictionary_words
    from agents.checks.names import name_drifts, stand_ins

    return [(d.rare, d.usual, len(d.rare_uses), len(d.usual_uses)) for d in name_drifts(text, earlier, known)] + [
        (s.name, s.usual, 1, len(s.usual_uses)) for s in stand_ins(text, earlier, known, dictionary=dictionary_words)
    ]


def name_drift(items, contradoc_items) -> dict:
    """The long stories' labelled drifts, and everything else reported on them, on the ContraDoc stories (none has a
    name slip labelled) and, chapter by chapter, on the demo story."""
    rows, words, others = [], 0, 0
    for item in items:
        text, error = item["story"], item["error"] or {}
        started = time.perf_counter()
        slips = name_slips(text)
        seconds = time.perf_counter() - started
        description = error.get("description", "")
        labelled = "spelled" in description or "called" in description or "referred to as" in description
        found = [s for s in slips if named(s[0], description) and named(s[1], description)]
        words += len(text.split())
        others += len(slips) - len(found)
        rows.append({
            "id": item["id"], "words": len(text.split()), "labelled_name_drift": labelled, "found": bool(found),
            "reported": [f"{used} ({n}) ~ {meant} ({m})" for used, meant, n, m in slips],
            "seconds": round(seconds, 3), "label": description[:160],
        })  # fmt: skip
    labelled = [r for r in rows if r["labelled_name_drift"]]
    contradoc_words = sum(len(item["story"].split()) for item in contradoc_items)
    contradoc_reported = [
        f"{item['id']}: {s[0]} ~ {s[1]}" for item in contradoc_items for s in name_slips(item["story"])
    ]
    demo = json.loads((ROOT / "storyassistant" / "management" / "demo_story.json").read_text())
    chapters = [c["content"] for c in demo["chapters"]]
    cast = [c["name"] for c in demo["characters"]]
    demo_reported = [
        f"chapter {i + 1}: {s[0]} ~ {s[1]}"
        for i, text in enumerate(chapters)
        for s in name_slips(text, chapters[:i], cast)
    ]
    demo_words = sum(len(text.split()) for text in chapters)
    return {
        "labelled_drifts": len(labelled),
        "found": sum(r["found"] for r in labelled),
        "other_drifts_reported_per_10000_words": round(10000 * others / max(words, 1), 2),
        "contradoc_words": contradoc_words,
        "reported_on_contradoc_per_10000_words": round(10000 * len(contradoc_reported) / max(contradoc_words, 1), 2),
        "reported_on_contradoc": contradoc_reported,
        "demo_story_words": demo_words,
        "reported_on_demo_story": demo_reported,
        "stories": rows,
    }


def rules(contradoc_items, long_items) -> dict:
    """The checks that need no model (eye and hair colours, the dead acting) on the project's labelled pairs (the
    earlier statement as a profile for colours, as an earlier chapter for deaths), the ContraDoc stories split as
    the check splits them, and the long stories (first half against second; their labels are for other errors, so
    anything reported there is shown for reading, not scored)."""
    from agents.checks import appearance, deaths
    from agents.checks.grammar import dictionary_words
    from agents.checks.names import established_names, person_words
    from agents.tests.consistency_set import LABELS, PAIRS, scores

    def slips(new: str, earlier: str, whole: str, profiles=None, cast=()) -> list[str]:
        people = person_words([*established_names([whole]), *cast, *(profiles or {})], dictionary_words)
        found = [
            f"{s.new.person}'s {s.new.feature} {s.new.colour}, earlier {s.established.colour}"
            for s in appearance.slips(new, [] if profiles else [earlier], profiles or {}, people)
        ]
        return found + [f"{s.act.person} acts after dying" for s in deaths.slips(new, [earlier], people)]

    predicted = [
        bool(slips(p["new"], p["earlier"], p["earlier"] + " " + p["new"], cast=[p["subject"]]))
        or bool(slips(p["new"], "", p["new"], {p["subject"]: p["earlier"]}))
        for p in PAIRS
    ]
    flagged = {True: 0, False: 0}
    for item in contradoc_items:
        earlier, new = split(item["story"])
        flagged[item["has_error"]] += bool(slips(new, earlier, item["story"]))
    long_words, long_reported = 0, []
    for item in long_items:
        text = item["story"]
        half = len(text) // 2
        long_words += len(text.split())
        long_reported += [f"{item['id']}: {found}" for found in slips(text[half:], text[:half], text)]
    errors = sum(item["has_error"] for item in contradoc_items)
    cases = ("eye colour", "hair colour", "same words, opposite facts", "a dead character speaking")
    in_reach = [p["label"] == "contradiction" and p["case"] in cases for p in PAIRS]
    return {
        "own_pairs": {"pairs": len(PAIRS), "contradicting": sum(LABELS), **scores(predicted)},
        "own_pairs_of_kinds_in_reach": {
            "contradicting": sum(in_reach),
            "found": sum(p and r for p, r in zip(predicted, in_reach, strict=True)),
        },
        "contradoc_flagged_with_error": f"{flagged[True]}/{errors}",
        "contradoc_flagged_clean": f"{flagged[False]}/{len(contradoc_items) - errors}",
        "long_stories_words": long_words,
        "long_stories_reported": long_reported,
    }


def long_story(user, words: int) -> dict:
    from agents.memory import store as memory
    from generation.dispatch import start_generation
    from generation.models import GenerationTask
    from generation.tasks import run_generation
    from stories.models import Chapter, Story

    per_chapter, paragraph_words = 5000, 120
    story = Story.objects.create(owner=user, title="A long story")
    texts = paragraphs(words // paragraph_words + 1, paragraph_words, seed=3)
    per = per_chapter // paragraph_words
    chapters = [
        Chapter.objects.create(
            story=story, order=i + 1, title=f"Part {i + 1}", content="\n\n".join(texts[at : at + per])
        )
        for i, at in enumerate(range(0, len(texts), per))
    ]
    started = time.perf_counter()
    for chapter in chapters:
        memory.sync_chapter(chapter)
    synced = time.perf_counter() - started
    started = time.perf_counter()
    task = start_generation(user, story, GenerationTask.Mode.CHECK, {}, chapter=chapters[-1])
    run_generation(str(task.pk))
    seconds = time.perf_counter() - started
    task.refresh_from_db()
    judging = task.quality.consistency
    return {
        "story_words": sum(len(c.content.split()) for c in chapters),
        "chapters": len(chapters),
        "checked_chapter_words": len(chapters[-1].content.split()),
        "memory_sync_seconds": round(synced, 1),
        "check_seconds": round(seconds, 1),
        "status": task.status,
        "pairs_judged": len(judging.get("judged", [])),
        "judge_calls": judging.get("calls", 0),
        "checks": [f"{c.name}: {c.detail}" for c in task.quality.checks],
        "findings": len(task.quality.findings),
    }


def deaths_labelled() -> dict:
    """The dead-acting rule on its own labelled set (agents/tests/data/deaths.json): deaths told in the shapes
    writers use (compound, passive, appositive, by others) followed by an act, and as many cases that must stay
    quiet (a death not told, a return, someone else's death, memories, speech, the past)."""
    from agents.tests import deaths_set

    result = deaths_set.outcome()
    found = result["slips"] - len(result["missed"])
    return {"slips": result["slips"], "found": found, "recall": round(found / result["slips"], 3),
            "clean": result["clean"], "false_alarms": len(result["alarms"])}  # fmt: skip


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-judge", action="store_true", help="candidate recall and name drift only")
    parser.add_argument("--stories", type=int, default=0, help="only the first N ContraDoc stories")
    parser.add_argument("--long-words", type=int, default=100_000, help="words in the long story (0: skip it)")
    parser.add_argument("--long-only", action="store_true", help="only the long story (bench/results/continuity-long)")
    parser.add_argument(
        "--rules-only", action="store_true", help="only the checks without a model, into results/continuity.json"
    )
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    from agents.services import llm
    from core.models import User

    settings.LLM_CACHE_TTL = 0  # every judgement made afresh: a run right after another would time cached answers

    contradoc_items = load("contradoc_stories.jsonl")
    if args.rules_only:
        result = json.loads((ROOT / "bench" / "results" / "continuity.json").read_text())
        result = {k: v for k, v in result.items() if k not in ("benchmark", "when", "machine")}
        result["rules"] = rules(contradoc_items, load("constory_long_silver.jsonl"))
        result["deaths_labelled"] = deaths_labelled()
        print(json.dumps({"rules": result["rules"], "deaths_labelled": result["deaths_labelled"]}, indent=2))
        print(f"written to {write_result('continuity', result)}")
        return
    if args.stories:
        contradoc_items = contradoc_items[: args.stories]
    user = User.objects.create_user(email=f"continuity-{time.time_ns()}@bench.invalid", password=None)
    try:
        target = llm.resolve()
        result = {"model": {"provider": target.provider.name, "model": target.model}}
        if not args.long_only:
            result["contradoc"] = contradoc(user, contradoc_items, judge=not args.no_judge)
            result["name_drift"] = name_drift(load("constory_long_silver.jsonl"), load("contradoc_stories.jsonl"))
            result["rules"] = rules(contradoc_items, load("constory_long_silver.jsonl"))
            result["deaths_labelled"] = deaths_labelled()
        if args.long_words:
            result["long_story"] = long_story(user, args.long_words)
    finally:
        user.delete()
    if "contradoc" in result:
        print(json.dumps({"model": result["model"], **result["contradoc"]["figures"]}, indent=2))
        drift = {k: v for k, v in result["name_drift"].items() if k != "stories"}
        print(json.dumps({"name_drift": drift, "rules": result["rules"]}, indent=2))
    if "long_story" in result:
        print(json.dumps({"long_story": result["long_story"]}, indent=2))
    name = "continuity" if target.provider.name == "embedded" else f"continuity-{target.provider.name}"
    name += "-long" if args.long_only else ""
    print(f"written to {write_result(name, result)}")


if __name__ == "__main__":
    main()
