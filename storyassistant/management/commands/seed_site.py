"""Fill the database with a site of realistic size, the same every time, so benchmarks measure what a site in use
costs rather than an empty database.

    manage.py seed_site [--writers 500] [--stories 2000] [--novels 50] [--replace]

Writers seed-<n>@seed.invalid (no password: they cannot sign in) with their stories, chapters (a few hundred to
a few thousand words), three revisions a chapter, cast and world, memory items with embeddings, and past
generation tasks with their reports; some stories are imported novels (40 chapters of about 2,500 words). Also a
few pathological but legal objects: a 500,000-character chapter with its revisions, a continuity check that
stored thousands of findings (as reports were before they were bounded), and a 2,000-entry lorebook.

Embeddings are pseudo-random unit vectors from the seed (the model is not run: the vector index's size and shape
is what a benchmark needs). Rows go in with bulk inserts; a second run says the site is already seeded unless
--replace removes it first.
"""

import contextlib
import hashlib
import random
import time
import uuid
from datetime import timedelta

import numpy as np
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

EMAIL = "seed-{}@seed.invalid"
WORDS = [
    "the",
    "harbour",
    "lantern",
    "tide",
    "storm",
    "causeway",
    "chapel",
    "market",
    "bell",
    "gull",
    "rope",
    "salt",
    "keeper",
    "ledger",
    "letter",
    "boat",
    "map",
    "window",
    "stair",
    "door",
    "shadow",
    "whisper",
    "promise",
    "debt",
    "fever",
    "winter",
    "ember",
    "iron",
    "glass",
    "silver",
    "river",
    "bridge",
    "orchard",
    "walked",
    "argued",
    "remembered",
    "searched",
    "hid",
    "carried",
    "counted",
    "waited",
    "listened",
    "answered",
    "watched",
    "followed",
    "crossed",
    "slowly",
    "quietly",
    "again",
    "before",
    "after",
    "although",
    "because",
    "while",
    "beneath",
    "beyond",
    "towards",
    "against",
    "without",
]
NAMES = ["Mara", "Tomas", "Ilse", "Quillon", "Vessa", "Ennet", "Brell", "Corrie", "Ottilie", "Ferren", "Hale"]
GENRES = ["Fantasy", "Mystery", "Romance", "Science fiction", "Historical", "Literary", "Thriller", ""]
BATCH = 1000


class Text:
    """Deterministic prose-like text: sentences of names and words, paragraphs of sentences."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.sentences = [self._sentence() for _ in range(4000)]

    def _sentence(self) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(8, 22))
        words.insert(self.rng.randint(0, 3), self.rng.choice(NAMES))
        return " ".join(words).capitalize() + self.rng.choice([".", ".", ".", "!", "?"])

    def words(self, count: int) -> str:
        out, total = [], 0
        while total < count:
            paragraph = " ".join(self.rng.choices(self.sentences, k=self.rng.randint(3, 7)))
            out.append(paragraph)
            total += paragraph.count(" ") + 1
        return "\n\n".join(out)


class Command(BaseCommand):
    help = "Fill the database with a realistic site for benchmarks (deterministic)."

    def add_arguments(self, parser):
        parser.add_argument("--writers", type=int, default=500)
        parser.add_argument("--stories", type=int, default=2000)
        parser.add_argument("--novels", type=int, default=50)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--replace", action="store_true", help="remove an earlier seeded site first")

    def handle(self, *args, writers, stories, novels, seed, replace, **options):
        from core.models import User

        seeded = User.objects.filter(email__endswith="@seed.invalid")
        if seeded.exists():
            if not replace:
                self.stdout.write(f"Already seeded ({seeded.count()} writers); --replace seeds it again.")
                return
            started = time.monotonic()
            seeded.delete()
            self.stdout.write(f"Removed the earlier seeded site in {time.monotonic() - started:.0f} s.")
        started = time.monotonic()
        counts = Seeder(seed).run(writers, stories, novels)
        took = time.monotonic() - started
        self.stdout.write(", ".join(f"{n:,} {what}" for what, n in counts.items()) + f" in {took:.0f} s.")


@contextlib.contextmanager
def search_indexes_built_after():
    """The memory items' vector (HNSW) and text (GIN) indexes dropped while rows go in and built again after, as
    their own definitions say: one build is many times faster than as many inserts into them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'agents_memoryitem' "
            "AND (indexdef ILIKE '%USING hnsw%' OR indexdef ILIKE '%USING gin%')"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            # The vector graph is built in memory: past maintenance_work_mem (64 MB by default) the build slows
            # many times over.
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # inside a transaction: no pending checks at the build
            for _, definition in indexes:
                cursor.execute(definition)
            cursor.execute("RESET maintenance_work_mem")


class Seeder:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.vectors = np.random.default_rng(seed)
        self.text = Text(self.rng)
        self.now = timezone.now()
        self.counts: dict[str, int] = {}

    def count(self, what: str, n: int):
        self.counts[what] = self.counts.get(what, 0) + n

    def embedding(self):
        vector = self.vectors.standard_normal(384)
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def memory(self, owner, story, kind, text, **links):
        from agents.models import MemoryItem

        return MemoryItem(owner=owner, story=story, kind=kind, text=text[:2000], embedding=self.embedding(),
                          content_hash=hashlib.sha256(text.encode()).hexdigest(), **links)  # fmt: skip

    def run(self, writer_count: int, story_count: int, novel_count: int) -> dict:
        from core.models import User

        users = User.objects.bulk_create(
            [User(email=EMAIL.format(n), is_active=True) for n in range(writer_count)], batch_size=BATCH
        )
        for user in users:
            user.set_unusable_password()
        User.objects.bulk_update(users, ["password"], batch_size=BATCH)
        self.count("writers", len(users))
        novels = set(self.rng.sample(range(story_count), min(novel_count, story_count)))
        with search_indexes_built_after():
            for start in range(0, story_count, 100):  # a hundred stories a transaction: bounded memory
                with transaction.atomic():
                    self.stories(users, range(start, min(start + 100, story_count)), novels)
            with transaction.atomic():
                self.pathological(users)
        return self.counts

    def stories(self, users, numbers, novels):
        from agents.models import MemoryItem, MemoryKind
        from characters.models import Character, StoryCharacter
        from generation.models import GenerationTask
        from stories.models import Chapter, ChapterRevision, Story, WorldEntry
        from stories.text import count_words

        rng = self.rng
        stories = Story.objects.bulk_create([
            Story(owner=users[n % len(users)], title=f"{rng.choice(NAMES)} and the {rng.choice(WORDS).title()} {n}",
                  genre=rng.choice(GENRES), premise=self.text.words(rng.randint(20, 80)))
            for n in numbers
        ])  # fmt: skip
        chapters, characters, entries = [], [], []
        for n, story in zip(numbers, stories, strict=True):
            novel = n in novels
            for order in range(1, (40 if novel else rng.randint(1, 9)) + 1):
                content = self.text.words(rng.randint(2000, 3000) if novel else rng.randint(300, 3000))
                chapters.append(Chapter(story=story, title=f"Chapter {order}", order=order, content=content,
                                        word_count=count_words(content), version=4))  # fmt: skip
            for name in rng.sample(NAMES, 3):
                characters.append(
                    (
                        story,
                        Character(
                            owner=story.owner, name=name, personality=self.text.words(30), backstory=self.text.words(80)
                        ),
                    )
                )
            for kind in rng.sample(list(WorldEntry.Kind.values), 3):
                entries.append(WorldEntry(story=story, kind=kind, name=f"{rng.choice(WORDS).title()} {kind}",
                                          description=self.text.words(60)))  # fmt: skip
        Chapter.objects.bulk_create(chapters, batch_size=BATCH)
        for _, character in characters:  # profiles read, as memory sync leaves them (random vectors, as memory's)
            character.profile_embedding = self.embedding()
            character.profile_hash = hashlib.sha256(character.profile_text().encode()).hexdigest()
        Character.objects.bulk_create([c for _, c in characters], batch_size=BATCH)
        StoryCharacter.objects.bulk_create(
            [StoryCharacter(story=s, character=c, importance=rng.randint(1, 10)) for s, c in characters],
            batch_size=BATCH,
        )
        WorldEntry.objects.bulk_create(entries, batch_size=BATCH)
        revisions, memory = [], []
        for chapter in chapters:
            for version in range(1, 4):  # earlier drafts: the text as it was, shorter
                cut = len(chapter.content) * version // 4
                revisions.append(ChapterRevision(chapter=chapter, title=chapter.title, version=version,
                                                 content=chapter.content[:cut], word_count=chapter.word_count *
                                                 version // 4, author=chapter.story.owner))  # fmt: skip
            for part, passage in enumerate(chapter.content.split("\n\n")[::3]):
                memory.append(self.memory(chapter.story.owner, chapter.story, MemoryKind.PASSAGE, passage,
                                          chapter=chapter, position=part))  # fmt: skip
        for story, character in characters:
            memory.append(self.memory(story.owner, story, MemoryKind.CHARACTER, character.backstory,
                                      character=character))  # fmt: skip
        for entry in entries:
            memory.append(self.memory(entry.story.owner, entry.story, MemoryKind.WORLD, entry.description,
                                      world_entry=entry))  # fmt: skip
        ChapterRevision.objects.bulk_create(revisions, batch_size=BATCH)
        MemoryItem.objects.bulk_create(memory, batch_size=BATCH)
        tasks = []
        by_story = {}
        for chapter in chapters:
            by_story.setdefault(chapter.story_id, []).append(chapter)
        for story in stories:
            for _ in range(rng.randint(1, 8)):
                chapter = rng.choice(by_story[story.pk])
                started = self.now - timedelta(days=rng.uniform(0, 60))
                check = rng.random() < 0.3
                findings = [{"check": "grammar", "severity": "info", "message": f"Suggestion {i}"}
                            for i in range(rng.randint(0, 12))]  # fmt: skip
                tasks.append(GenerationTask(
                    id=uuid.UUID(int=rng.getrandbits(128)), user=story.owner, story=story, chapter=chapter,
                    mode="check" if check else "next_chapter", status="succeeded", progress=100,
                    started_at=started, finished_at=started + timedelta(seconds=rng.uniform(10, 240)),
                    result_content="" if check else self.text.words(rng.randint(300, 900)),
                    quality_report={"verdict": "warn" if findings else "pass", "findings": findings},
                ))  # fmt: skip
        GenerationTask.objects.bulk_create(tasks, batch_size=BATCH)
        for what, n in (("stories", len(stories)), ("chapters", len(chapters)), ("revisions", len(revisions)),
                        ("characters", len(characters)), ("world entries", len(entries)),
                        ("memory items", len(memory)), ("tasks", len(tasks))):  # fmt: skip
            self.count(what, n)

    def pathological(self, users):
        """Legal objects at the edges of the limits, owned by the first writers."""
        from agents.models import MemoryItem, MemoryKind
        from generation.models import GenerationTask
        from stories.models import Chapter, ChapterRevision, Story, WorldEntry
        from stories.text import CHAPTER_MAX_CHARS, count_words

        rng = self.rng
        story = Story.objects.filter(owner=users[0]).order_by("pk").first()
        content = self.text.words(CHAPTER_MAX_CHARS // 5)[: CHAPTER_MAX_CHARS - 1]
        order = story.chapters.count() + 1
        huge = Chapter.objects.create(story=story, title="The long one", order=order, content=content)
        ChapterRevision.objects.bulk_create(
            [ChapterRevision(chapter=huge, title=huge.title, content=content, word_count=count_words(content),
                             version=v) for v in range(1, 4)]
        )  # fmt: skip
        matches = [
            {
                "offset": i * 5,
                "length": 3,
                "excerpt": "teh",
                "message": "Possible spelling mistake",
                "rule": "Spelling",
                "category": "Spelling",
                "replacements": ["the"],
            }
            for i in range(20_000)
        ]
        findings = [{"check": "grammar", "severity": "info", "message": f"Finding {i}"} for i in range(3000)]
        GenerationTask.objects.create(
            user=users[0], story=story, chapter=huge, mode="check", status="succeeded", progress=100,
            started_at=self.now - timedelta(minutes=5), finished_at=self.now - timedelta(minutes=3),
            quality_report={"verdict": "warn", "findings": findings, "grammar": {"matches": matches}},
        )  # fmt: skip
        lore_story = Story.objects.filter(owner=users[min(1, len(users) - 1)]).order_by("pk").first()
        entries = WorldEntry.objects.bulk_create(
            [WorldEntry(story=lore_story, kind="lore", name=f"Entry {i} {rng.choice(WORDS)}",
                        description=self.text.words(rng.randint(20, 200)),
                        metadata={"keys": [f"key{i}", rng.choice(WORDS)]}) for i in range(2000)],
            batch_size=BATCH,
        )  # fmt: skip
        MemoryItem.objects.bulk_create(
            [self.memory(lore_story.owner, lore_story, MemoryKind.WORLD, e.description, world_entry=e)
             for e in entries], batch_size=BATCH,
        )  # fmt: skip
        self.count("pathological objects", 3)
