"""The style report of a story: each chapter's figures (kept per chapter version), the writer's own norm across
their library, recommendations phrased against that norm, charts, and the writer's chapters and stories closest
in style.

Figures are measured when a chapter settles (agents/tasks.measure_chapter_style); the report measures in the
request only what is missing, up to STYLE_MEASURE_WORDS words, and queues the rest.
"""

from django.conf import settings

from agents.discovery import style
from agents.models import StyleReading

# The figures compared with the writer's norm: (key, label, unit, how much above the norm is worth saying).
COMPARED = [
    ("adverbs_per_1000", "adverbs", "per 1,000 words", 3.0),
    ("filter_words_per_1000", "filter words (saw, felt, realised…)", "per 1,000 words", 4.0),
    ("passive_per_100_sentences", "passive constructions", "per 100 sentences", 3.0),
]
BUCKET_LABELS = [f"≤{top}" for top in style.BUCKETS] + [f">{style.BUCKETS[-1]}"]
NORM_CHAPTERS = 500  # the writer's most recently measured chapters make their norm
SIMILAR_SHOWN = 5
STYLE_KEYS = ("mean_sentence", "sentence_variety", "dialogue_share", "adverbs_per_1000", "filter_words_per_1000",
              "passive_per_100_sentences", "reading_ease")  # fmt: skip


def measure_and_keep(chapter) -> dict:
    figures = style.measure(chapter.content).as_dict()
    StyleReading.objects.update_or_create(
        chapter=chapter, defaults={"owner_id": chapter.story.owner_id, "version": chapter.version, "figures": figures}
    )
    return figures


def figures_for(story) -> tuple[list[tuple], list]:
    """[(chapter, figures)] in order for the chapters measured (now if need be, within the word budget), and the
    chapters left for a background job (the caller queues them)."""
    chapters = list(story.chapters.defer("continuation_context").order_by("order"))
    kept = {r.chapter_id: r for r in StyleReading.objects.filter(chapter__in=chapters)}
    measured, pending, budget = [], [], settings.STYLE_MEASURE_WORDS
    for chapter in chapters:
        chapter.story = story
        reading = kept.get(chapter.pk)
        if reading and reading.version == chapter.version:
            measured.append((chapter, reading.figures))
        elif chapter.word_count <= budget:
            budget -= chapter.word_count
            measured.append((chapter, measure_and_keep(chapter)))
        else:
            pending.append(chapter)
    return measured, pending


def library(owner_id):
    """The style readings of the writer's stories they may open (not in the trash, not hidden), newest first."""
    return StyleReading.objects.filter(
        owner_id=owner_id, chapter__story__deleted_at__isnull=True, chapter__story__is_flagged=False
    ).order_by("-measured_at")


def writer_norm(owner_id) -> dict:
    """The writer's usual figures across their library (median over their latest measured chapters)."""
    return style.norm(list(library(owner_id).values_list("figures", flat=True)[:NORM_CHAPTERS]))


def times(value: float, usual: float) -> str:
    ratio = value / usual if usual else 0
    if ratio >= 2.8:
        return f"{round(ratio)} times"
    if ratio >= 1.9:
        return "twice"
    return f"{ratio:.1f} times"


def telling(story) -> tuple[str, str]:
    """The point of view ("first"/"third", or "" for second person, which the figures do not tell apart) and
    tense the story's settings give."""
    pov = story.settings.pov
    return ("first" if pov == "first" else "third" if pov.startswith("third") else ""), story.settings.tense


def recommendations(measured: list[tuple], norm: dict, pov: str = "", tense: str = "") -> list[dict]:
    """What stands out in each chapter against the writer's own norm and the story's settings (point of view
    "first" or "third", tense "past" or "present"; empty: not compared), most notable first. Each is {"chapter",
    "text", "weight", "quotes", "spans", "rewrite_note"}: a quoted sentence's span is (start, end) in the chapter's
    text, for a rewrite of it with the note; nothing is said of chapters too short to judge."""
    said = []
    for chapter, f in measured:
        if f.get("words", 0) < 200:
            continue
        name = f"Chapter {chapter.order} “{chapter.title}”"

        def say(weight, text, quotes=(), rewrite_note="", chapter=chapter, name=name):
            spans = [(at, at + len(q), q) for q in quotes if (at := chapter.content.find(q)) >= 0]
            said.append({"chapter": chapter, "weight": weight, "text": f"{name}{text}", "quotes": list(quotes),
                         "spans": spans, "rewrite_note": rewrite_note})  # fmt: skip

        for key, label, unit, margin in COMPARED:
            usual = norm.get(key)
            if usual is None or f[key] < 1.5 * max(usual, 0.1) or f[key] - usual < margin:
                continue
            if usual < 0.5:
                text = f" uses {label} where you usually use almost none: {f[key]} {unit}."
            else:
                text = f" uses {times(f[key], usual)} your usual {label}: {f[key]} {unit} against {usual:g}."
            if key == "adverbs_per_1000" and f.get("top_adverbs"):
                text += " Most used: " + ", ".join(f"{w} ({n})" for w, n in f["top_adverbs"][:3]) + "."
            say(f[key] / max(usual, 0.1), text)
        usual = norm.get("mean_sentence")
        if usual and not 0.7 * usual < f["mean_sentence"] < 1.4 * usual:
            longer = "longer" if f["mean_sentence"] > usual else "shorter"
            say(1.5, f": sentences are much {longer} than you usually write "
                     f"({f['mean_sentence']} words on average against {usual:g}).")  # fmt: skip
        usual = norm.get("sentence_variety")
        if usual and f["sentences"] >= 20 and f["sentence_variety"] < 0.6 * usual:
            say(1.4, f": sentences are all of a length (they vary by {f['sentence_variety']} words; yours usually "
                     f"by {usual:g}). Mixing short and long sets the pace.")  # fmt: skip
        usual = norm.get("dialogue_share")
        if usual is not None and abs(f["dialogue_share"] - usual) >= 0.25:
            more = "more" if f["dialogue_share"] > usual else "less"
            say(1.3, f" has much {more} dialogue than usual for you "
                     f"({f['dialogue_share']:.0%} of its words against {usual:.0%}).")  # fmt: skip
        if pov and f["point_of_view"] != pov:
            say(3, f" reads as told in the {f['point_of_view']} person; the story's settings say {pov}.")
        elif f["pov_slips"]:
            keep = f"Keep the narration in the {f['point_of_view']} person, as in the rest of the chapter."
            say(1.2, f": some narration leans away from the {f['point_of_view']} person.", f["pov_slips"], keep)
        if tense and f["tense"] != tense:
            say(3, f" reads as told in the {f['tense']} tense; the story's settings say {tense}.")
        elif f["tense_slips"]:
            keep = f"Keep the narration in the {f['tense']} tense, as in the rest of the chapter."
            say(1.2, f": some narration slips out of the {f['tense']} tense.", f["tense_slips"], keep)
        for word in f["repeated_openings"][:2]:
            say(1.1, f": {style.OPENING_RUN} or more sentences in a row open with “{word}”.")
    said.sort(key=lambda r: -r["weight"])
    return said


def style_vector(figures: dict, scale: dict) -> list[float]:
    return [(figures[k] - scale[k][0]) / scale[k][1] for k in STYLE_KEYS]


def closest_in_style(owner_id, figures: dict, exclude_story_id=None, chapters=True) -> list[dict]:
    """The writer's chapters (or stories, averaged) closest to these figures, each figure scaled by its spread
    across the writer's library so that no one figure dominates."""
    rows = list(
        library(owner_id)
        .filter(figures__words__gte=200)
        .exclude(chapter__story_id=exclude_story_id)
        .select_related("chapter__story")  # without the chapters' text: only their names are shown
        .only("figures", "chapter__title", "chapter__order", "chapter__story__title")[:NORM_CHAPTERS]
    )
    if not rows or not figures.get("words"):
        return []
    scale = {}
    for key in STYLE_KEYS:
        values = [r.figures[key] for r in rows]
        mean = sum(values) / len(values)
        spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
        scale[key] = (mean, spread or 1.0)
    target = style_vector(figures, scale)
    if chapters:
        things = [(r.chapter, r.chapter.story, style_vector(r.figures, scale)) for r in rows]
    else:
        by_story = {}
        for r in rows:
            by_story.setdefault(r.chapter.story_id, (r.chapter.story, []))[1].append(style_vector(r.figures, scale))
        things = [(None, s, [sum(col) / len(col) for col in zip(*vs, strict=True)]) for s, vs in by_story.values()]
    ranked = sorted(things, key=lambda t: sum((a - b) ** 2 for a, b in zip(t[2], target, strict=True)))
    return [{"chapter": c, "story": s} for c, s, _ in ranked[:SIMILAR_SHOWN]]


def story_figures(measured: list[tuple]) -> dict:
    """The story as a whole: chapters' figures weighted by their words, histograms added."""
    total = sum(f.get("words", 0) for _, f in measured)
    if not total:
        return {}
    whole = {k: round(sum(f[k] * f["words"] for _, f in measured if f.get("words")) / total, 3) for k in STYLE_KEYS}
    whole["words"] = total
    whole["sentence_lengths"] = [
        sum(col) for col in zip(*(f["sentence_lengths"] for _, f in measured if f.get("words")), strict=True)
    ]
    return whole
