"""Characters like this one on a large library: one writer with 50 stories and 2,000 characters (profiles made
from varied parts and embedded as memory sync does), then the character page and the cast page asked for through
the full middleware stack, in-process.

    .venv/bin/python bench/discovery.py [--characters 2000] [--stories 50] [--requests 100]

Prints p50/p95 of the pages and of the query and the look-alike check alone, and writes
bench/results/discovery.json. The writer and their library are removed afterwards. (The cast page's own cost on
such a library is mostly its "add to the cast" list, which offers every character not yet in the story.)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--characters", type=int, default=2000)
    parser.add_argument("--stories", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100)
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
    email = "discovery@bench.invalid"
    User.objects.filter(email=email).delete()
    writer = User.objects.create_user(email=email, password=None)
    try:
        rng = random.Random(5)
        started = time.perf_counter()
        characters = [Character(owner=writer, name=f"Person {n}", **profile(rng)) for n in range(args.characters)]
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

        query = timed(lambda c: c.characters_like())
        page = timed(lambda c: client.get(reverse("character_detail", args=[c.pk])))
        cast_page = timed(lambda c: client.get(reverse("story_cast", args=[stories[0].pk])))
        members = list(StoryCharacter.objects.filter(story=stories[0]).select_related("character"))
        look_alikes = timed(lambda c: look_alike_pairs([m.character for m in members]))
        alike = len(Character.objects.get(pk=picks[0].pk).characters_like())
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
        "target_p95_ms": 50,
    }
    timed_names = ["characters_like_query", "character_page", "cast_page_with_look_alike_check"]
    for name in [*timed_names, "look_alike_check_alone"]:
        print(f"{name:34} p50 {result[name]['p50_ms']:7.2f} ms  p95 {result[name]['p95_ms']:7.2f} ms")
    print(f"written to {write_result('discovery', result)}")


if __name__ == "__main__":
    main()
