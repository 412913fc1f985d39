"""Discovery on a large library: one writer with 50 stories and 2,000 characters (profiles made from varied
parts and embedded as memory sync does) and 20,000 chapter passages in memory (random unit vectors: the search
costs the same whatever they mean), then the pages asked for through the full middleware stack, in-process:
characters like this one, the cast page, scenes like this one (two characters, a passage, a kind, in the story
and across the library), the story bible with its patterns, and the style report of a 100,000-word story, cold
(every chapter measured in the request) and warm.

    .venv/bin/python bench/discovery.py [--characters 2000] [--stories 50] [--requests 100]

Prints p50/p95 of each and writes bench/results/discovery.json. The writer and their library are removed
afterwards. (The cast page's own cost on such a library is mostly its "add to the cast" list, which offers every
character not yet in the story.)
"""

import argparse
import random
import time

from common import percentile, setup_django, write_result

LOOKS = ["tall", "stooped", "scarred", "freckled", "grey-eyed", "bald", "wiry", "heavyset", "one-eyed", "elegant"]
MANNER = ["stubborn", "cheerful", "secretive", "loyal", "reckless", "patient", "vain", "anxious", "kind", "cruel",
          "curious", "proud", "lazy", "devout", "cynical"]  # fmt: skip
WORK = ["sailor", "baker", "scholar", "thief", "priest", "smith", "soldier", "healer", "merchant", "spy", "farmer"]
WANTS = ["revenge on a brother", "a quiet life", "the lost map", "a seat on the council", "forgiveness",
         "to cross the sea", "a cure for a sister", "gold enough to leave", "the truth about the fire"]  # fmt: skip
VOICE = ["clipped orders", "long formal sentences", "jokes at bad moments", "whispers", "old proverbs",
         "sailor's slang", "questions without waiting for answers", "says little"]  # fmt: skip


def profile(rng: random.Random) -> dict:
    work = rng.choice(WORK)
    return {
        "appearance": f"A {rng.choice(LOOKS)}, {rng.choice(LOOKS)} {work}.",
        "personality": ", ".join(rng.sample(MANNER, 3)).capitalize() + ".",
        "goals": f"Wants {rng.choice(WANTS)}.",
        "speech_pattern": rng.choice(VOICE).capitalize() + ".",
        "backstory": f"Was a {rng.choice(WORK)} before becoming a {work}; {rng.choice(WANTS)} drives them.",
    }


SYLLABLES = ["ka", "lo", "mir", "te", "sa", "vor", "en", "dri", "ul", "pa", "nes", "qui", "ro", "bel", "ith", "ga"]


def name_of(n: int) -> str:
    """A distinct made-up name for each n: a first name and a family name, as a writer's cast has."""
    first = "".join(SYLLABLES[(n // 16**i) % 16] for i in range(3)).capitalize()
    return f"{first} {SYLLABLES[n % 7]}{SYLLABLES[(n // 7) % 16]}".title()


def seed_passages(writer, stories, characters, per_story, rng, count) -> int:
    """`count` chapter passages spread over the stories' chapters, naming two of each story's cast in turn."""
    from django.db import connection

    from agents.discovery import tropes
    from agents.models import MemoryItem, PatternReading, StoryPattern
    from agents.services.embeddings import embed_many
    from stories.models import Chapter

    per_story_passages = count // len(stories)
    chapters_per_story = 20
    chapters = Chapter.objects.bulk_create([
        Chapter(story=story, title=f"Chapter {n + 1}", order=n + 1, content="")
        for story in stories for n in range(chapters_per_story)
    ])  # fmt: skip
    items = []
    for n in range(per_story_passages * len(stories)):
        story_index, position = divmod(n, per_story_passages)
        cast = characters[story_index * per_story : (story_index + 1) * per_story]
        a, b = rng.sample(cast, 2)
        chapter = chapters[story_index * chapters_per_story + position * chapters_per_story // per_story_passages]
        text = f"{a.name} met {b.name} {rng.choice(WANTS)}; {rng.choice(MANNER)} words and {rng.choice(LOOKS)} looks."
        items.append(MemoryItem(owner=writer, story=stories[story_index], chapter=chapter, kind="passage",
                                text=text, content_hash=f"{n:064d}", position=position, start_offset=0,
                                end_offset=len(text)))  # fmt: skip
    # Vectors of the passages' own text, as memory sync stores them: random vectors would sit far from every
    # real passage other writers hold, and make a search of this writer's library walk past all of theirs.
    for item, vector in zip(items, embed_many([item.text for item in items]), strict=True):
        item.embedding = vector
    MemoryItem.objects.bulk_create(items, batch_size=2000)
    # The first story was read for patterns before its chapters changed: the bible lists them and checks.
    keys = [t.key for t in tropes.catalogue()[:8]]
    StoryPattern.objects.bulk_create([StoryPattern(story=stories[0], key=k, score=0.3, similarity=0.4, cues=["x"],
                                                   chapter=chapters[0], excerpt="…") for k in keys])  # fmt: skip
    PatternReading.objects.create(story=stories[0], digest="older", passages=per_story_passages)
    with connection.cursor() as cursor:  # as autovacuum would after so many new rows: the planner needs the counts
        cursor.execute("ANALYZE agents_memoryitem")
    return len(items)


def scene_timings(client, stories, per_story, characters, timed) -> dict:
    """Scenes like this one through the page: two of the first story's cast, a passage, a kind, and the library."""
    from django.urls import reverse

    url = reverse("story_scenes", args=[stories[0].pk])
    a, b = characters[0], characters[1]
    texts = [f"They argued about {w} until dawn." for w in WANTS]
    pick = iter(range(10**6))
    return {
        "scenes_two_characters_in_story": timed(lambda c: client.get(url, {"a": a.pk, "b": b.pk})),
        "scenes_by_passage_in_story": timed(lambda c: client.get(url, {"text": texts[next(pick) % len(texts)]})),
        "scenes_by_kind_across_library": timed(lambda c: client.get(url, {"kind": "reunion", "scope": "library"})),
        "scenes_two_characters_across_library": timed(
            lambda c: client.get(url, {"a": a.pk, "b": b.pk, "scope": "library"})
        ),
        "story_bible_with_patterns": timed(lambda c: client.get(reverse("story_bible", args=[stories[0].pk]))),
    }


def style_timings(client, writer, rng) -> dict:
    """The style report of a 100,000-word story in 30 chapters: cold (nothing measured yet) and warm."""
    from common import paragraphs
    from django.urls import reverse

    from stories.models import Chapter, Story

    story = Story.objects.create(owner=writer, title="The long one")
    pool = paragraphs(900, seed=rng.randint(1, 10**6))
    Chapter.objects.bulk_create([
        Chapter(story=story, title=f"Part {n + 1}", order=n + 1, content="\n\n".join(pool[n * 30 : (n + 1) * 30]),
                word_count=sum(len(p.split()) for p in pool[n * 30 : (n + 1) * 30]))
        for n in range(30)
    ])  # fmt: skip
    url = reverse("story_style", args=[story.pk])
    began = time.perf_counter()
    response = client.get(url)
    cold = time.perf_counter() - began
    assert response.status_code == 200 and "still being measured" not in response.content.decode()
    warm = []
    for _ in range(20):
        began = time.perf_counter()
        client.get(url)
        warm.append((time.perf_counter() - began) * 1000)
    words = sum(Chapter.objects.filter(story=story).values_list("word_count", flat=True))
    return {"words": words, "chapters": 30, "cold_seconds": round(cold, 2),
            "warm_p50_ms": round(percentile(warm, 50), 1), "warm_p95_ms": round(percentile(warm, 95), 1)}  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--characters", type=int, default=2000)
    parser.add_argument("--stories", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--passages", type=int, default=20_000)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from agents.services.embeddings import embed_many, text_hash
    from characters.likeness import look_alike_pairs
    from characters.models import Character, StoryCharacter
    from core.models import User
    from stories.models import Story

    settings.ALLOWED_HOSTS = ["*"]
    settings.SEARCHES_PER_MINUTE = 10**6  # one writer asking hundreds of times a minute, on purpose
    email = "discovery@bench.invalid"
    User.objects.filter(email=email).delete()
    writer = User.objects.create_user(email=email, password=None)
    try:
        rng = random.Random(5)
        started = time.perf_counter()
        characters = [Character(owner=writer, name=name_of(n), **profile(rng)) for n in range(args.characters)]
        texts = [c.profile_text() for c in characters]
        for character, text, vector in zip(characters, texts, embed_many(texts), strict=True):
            character.profile_embedding, character.profile_hash = vector, text_hash(text)
        Character.objects.bulk_create(characters, batch_size=500)
        stories = Story.objects.bulk_create([Story(owner=writer, title=f"Book {n}") for n in range(args.stories)])
        per_story = args.characters // args.stories
        StoryCharacter.objects.bulk_create([
            StoryCharacter(story=stories[n // per_story], character=c, role=rng.choice(StoryCharacter.Role.values))
            for n, c in enumerate(characters[: per_story * args.stories])
        ])  # fmt: skip
        seeded = time.perf_counter() - started
        client = Client()
        client.force_login(writer)
        picks = [rng.choice(characters) for _ in range(args.requests)]

        def timed(call) -> list[float]:
            call(picks[0])  # warm
            out = []
            for pick in picks:
                began = time.perf_counter()
                call(pick)
                out.append((time.perf_counter() - began) * 1000)
            return out

        passages = seed_passages(writer, stories, characters, per_story, rng, args.passages)
        query = timed(lambda c: c.characters_like())
        page = timed(lambda c: client.get(reverse("character_detail", args=[c.pk])))
        cast_page = timed(lambda c: client.get(reverse("story_cast", args=[stories[0].pk])))
        members = list(StoryCharacter.objects.filter(story=stories[0]).select_related("character"))
        look_alikes = timed(lambda c: look_alike_pairs([m.character for m in members]))
        alike = len(Character.objects.get(pk=picks[0].pk).characters_like())
        scenes = scene_timings(client, stories, per_story, characters, timed)
        style = style_timings(client, writer, rng)
    finally:
        User.objects.filter(email=email).delete()

    def figures(values):
        return {"p50_ms": round(percentile(values, 50), 2), "p95_ms": round(percentile(values, 95), 2)}

    result = {
        "library": {"characters": args.characters, "stories": args.stories, "cast_per_story": per_story},
        "seeding_seconds": round(seeded, 1),
        "requests": args.requests,
        "characters_like_query": figures(query),
        "character_page": figures(page),
        "cast_page_with_look_alike_check": figures(cast_page),
        "look_alike_check_alone": figures(look_alikes),
        "shown_per_page": alike,
        "passages_in_memory": passages,
        **{name: figures(values) for name, values in scenes.items()},
        "style_report_100k_words": style,
        "target_p95_ms": 50,
        "target_style_report_seconds": 3,
    }
    timed_names = ["characters_like_query", "character_page", "cast_page_with_look_alike_check", *scenes]
    for name in [*timed_names, "look_alike_check_alone"]:
        print(f"{name:34} p50 {result[name]['p50_ms']:7.2f} ms  p95 {result[name]['p95_ms']:7.2f} ms")
    print(
        f"style report of {style['words']:,} words: cold {style['cold_seconds']} s, warm p95 {style['warm_p95_ms']} ms"
    )
    print(f"written to {write_result('discovery', result)}")


if __name__ == "__main__":
    main()
