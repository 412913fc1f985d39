from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, SearchVectorField
from django.db import connection, models, transaction
from pgvector.django import CosineDistance, HnswIndex, VectorField

from agents.services.embeddings import DIMENSIONS

# Reciprocal rank fusion constant: 60 is the value from the original RRF paper and most search engines.
RRF_K = 60


class MemoryKind(models.TextChoices):
    CHARACTER = "character", "Character description"
    PLOT_POINT = "plot_point", "Plot point"
    WORLD = "world", "World building"
    DIALOGUE = "dialogue", "Dialogue pattern"
    PASSAGE = "passage", "Chapter passage"
    # A passage of a generation the writer rated highly: a style example for their next requests in the story.
    STYLE = "style", "Style the writer liked"


class MemoryItemQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(owner=user)

    def for_story(self, story):
        return self.filter(story=story)

    def of_kind(self, *kinds):
        return self.filter(kind__in=kinds) if kinds else self

    def similar_to(self, vector, k=10, ef_search=100) -> list["MemoryItem"]:
        """The k items closest in meaning (cosine), best first, each with .distance and .score (1 - distance).

        pgvector's iterative index scan keeps walking the HNSW graph until enough rows pass the filters, so a
        story or kind filter never returns fewer results than exist. A filter as selective as one story usually
        makes PostgreSQL skip the graph and rank that story's rows exactly.
        """
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(ef_search, k)])
            items = list(
                self.annotate(distance=CosineDistance("embedding", list(map(float, vector)))).order_by("distance")[:k]
            )
        # relaxed_order may return near-ties slightly out of order; the distances are exact, so sort them.
        items.sort(key=lambda item: item.distance)
        for item in items:
            item.score = 1 - item.distance
        return items

    def matching(self, text: str, k=10) -> list["MemoryItem"]:
        """Full-text matches (stemmed English, ranked), best first, each with .rank."""
        query = SearchQuery(text, search_type="websearch", config="english")
        return list(self.filter(search=query).annotate(rank=SearchRank("search", query)).order_by("-rank")[:k])

    def hybrid(self, text: str, vector, k=10, depth=50) -> list["MemoryItem"]:
        """Meaning and exact words together by reciprocal rank fusion: paraphrases come from the vectors,
        rare names ("Greyhaven") from full-text search. Each item gets .score (fused) and .distance."""
        by_meaning = self.similar_to(vector, depth)
        by_words = self.matching(text, depth)
        fused, items = {}, {}
        for ranking in (by_meaning, by_words):
            for rank, item in enumerate(ranking, start=1):
                fused[item.pk] = fused.get(item.pk, 0.0) + 1.0 / (RRF_K + rank)
                items.setdefault(item.pk, item)
        for item in by_meaning:
            items[item.pk].distance = item.distance
        ranked = sorted(items.values(), key=lambda item: -fused[item.pk])[:k]
        for item in ranked:
            item.score = fused[item.pk]
            if not hasattr(item, "distance"):
                item.distance = None
        return ranked


class MemoryItem(models.Model):
    """One thing the agents can remember about a story: a passage, a character, a place, a plot point."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="memory_items")
    chapter = models.ForeignKey(
        "stories.Chapter", null=True, blank=True, on_delete=models.CASCADE, related_name="memory_items"
    )
    character = models.ForeignKey(
        "characters.Character", null=True, blank=True, on_delete=models.CASCADE, related_name="memory_items"
    )
    world_entry = models.ForeignKey(
        "stories.WorldEntry", null=True, blank=True, on_delete=models.CASCADE, related_name="memory_items"
    )
    kind = models.CharField(max_length=20, choices=MemoryKind.choices)
    text = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    # Hash of the embedded text: a re-sync embeds only text whose hash is new.
    content_hash = models.CharField(max_length=64)
    position = models.PositiveIntegerField(default=0)
    start_offset = models.PositiveIntegerField(null=True, blank=True)
    end_offset = models.PositiveIntegerField(null=True, blank=True)
    embedding = VectorField(dimensions=DIMENSIONS)
    search = models.GeneratedField(
        expression=SearchVector("text", config="english"), output_field=SearchVectorField(), db_persist=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MemoryItemQuerySet.as_manager()

    class Meta:
        constraints = [
            # A text is remembered once per thing it belongs to, however many syncs of it run at once.
            models.UniqueConstraint(
                fields=["story", "kind", "chapter", "character", "world_entry", "content_hash"],
                name="memory_item_once_per_owner_thing",
                nulls_distinct=False,
            ),
        ]
        indexes = [
            # similar_to(): approximate nearest neighbours by cosine distance across large result sets.
            HnswIndex(
                name="memory_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            # matching(): full-text search.
            GinIndex(fields=["search"], name="memory_search_gin"),
            # for_story().of_kind(): one story's memory, exact ranking when the story is small.
            models.Index(fields=["story", "kind"], name="memory_story_kind_idx"),
            # Searching across all of a user's stories.
            models.Index(fields=["owner", "kind"], name="memory_owner_kind_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.text[:60]}"


class IgnoredFindingQuerySet(models.QuerySet):
    def fingerprints(self, story) -> frozenset[str]:
        return frozenset(self.filter(story=story).values_list("fingerprint", flat=True))


class IgnoredFinding(models.Model):
    """A quality finding the writer dismissed for this story; the checks do not raise it again."""

    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="ignored_findings")
    fingerprint = models.CharField(max_length=32)
    kind = models.CharField("check", max_length=40)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = IgnoredFindingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["story", "fingerprint"], name="ignored_finding_unique_per_story"),
        ]

    def __str__(self):
        return f"{self.kind}: {self.message[:60]}"


class FactAttribute(models.TextChoices):
    APPEARANCE = "appearance", "Appearance"
    AGE = "age", "Age"
    CONDITION = "condition", "Alive, dead or injured"
    LOCATION = "location", "Whereabouts"
    RELATIONSHIP = "relationship", "Kinship and relationships"
    OCCUPATION = "occupation", "Occupation"
    POSSESSION = "possession", "Possessions"
    ABILITY = "ability", "Abilities"
    KNOWLEDGE = "knowledge", "What they know"
    STATE = "state", "State of a place or thing"


class FactQuerySet(models.QuerySet):
    def in_force(self):
        """Facts that count: extracted or written by the writer, not deleted by the writer."""
        return self.exclude(status=Fact.Status.REJECTED)

    def before(self, chapter):
        return self.filter(story_id=chapter.story_id, chapter__order__lt=chapter.order)

    def latest_by_key(self) -> dict[str, "Fact"]:
        """For each subject, attribute and aspect, the fact in force after these: the latest one stated (a pinned
        fact or the writer's own wins within its chapter)."""
        valid: dict[str, Fact] = {}
        # Within a chapter: pinned after active, the writer's after extracted, and the later statement last.
        for fact in self.in_force().select_related("chapter").order_by("chapter__order", "status", "origin", "offset"):
            valid[fact.key] = fact
        return valid

    def valid_before(self, chapter) -> dict[str, "Fact"]:
        """The facts in force as the chapter begins."""
        return self.before(chapter).latest_by_key()


class Fact(models.Model):
    """One fact the story states about a character, place or object, from the chapter that states it on. A later
    chapter that states a change makes a new value valid from there; the writer can correct, pin or delete a fact,
    and extraction never overrides the writer."""

    class Origin(models.TextChoices):
        EXTRACTED = "extracted", "Read from the chapter"
        WRITER = "writer", "Written by the writer"

    class Status(models.TextChoices):
        # Ordered so that, within a chapter, pinned facts sort last and win (see valid_before).
        ACTIVE = "active", "In force"
        PINNED = "pinned", "Pinned by the writer"
        REJECTED = "rejected", "Deleted by the writer"

    class SubjectKind(models.TextChoices):
        CHARACTER = "character", "Character"
        PLACE = "place", "Place"
        OBJECT = "object", "Object"

    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="facts")
    chapter = models.ForeignKey("stories.Chapter", on_delete=models.CASCADE, related_name="facts")
    subject = models.CharField(max_length=200)
    subject_kind = models.CharField(max_length=10, choices=SubjectKind.choices, default=SubjectKind.CHARACTER)
    attribute = models.CharField(max_length=20, choices=FactAttribute.choices)
    aspect = models.CharField(max_length=100, blank=True)
    value = models.CharField(max_length=500)
    is_change = models.BooleanField(default=False)
    quote = models.TextField(blank=True, max_length=1000)
    offset = models.PositiveIntegerField(null=True, blank=True)
    # subject|attribute|aspect in lower case: the facts that can contradict each other share it.
    key = models.CharField(max_length=320)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.EXTRACTED)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    model = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FactQuerySet.as_manager()

    class Meta:
        ordering = ["chapter__order", "subject", "attribute", "aspect"]
        constraints = [
            # Extraction run twice stores a fact once; a deleted fact stays as a tombstone so it never returns.
            models.UniqueConstraint(fields=["chapter", "key", "value"], name="fact_once_per_chapter"),
        ]
        indexes = [
            # The story bible's timelines and the checks' "valid before this chapter": a story's facts by key.
            models.Index(fields=["story", "key"], name="fact_story_key_idx"),
        ]

    def __str__(self):
        aspect = f" ({self.aspect})" if self.aspect else ""
        return f"{self.subject} · {self.get_attribute_display()}{aspect}: {self.value}"

    @staticmethod
    def make_key(subject: str, attribute: str, aspect: str) -> str:
        return "|".join(" ".join(part.lower().split()) for part in (subject, attribute, aspect))[:320]

    def save(self, *args, **kwargs):
        self.key = self.make_key(self.subject, self.attribute, self.aspect)
        super().save(*args, **kwargs)


class FactReading(models.Model):
    """When a chapter was last read for facts, from which text and by which model, or why it was not."""

    chapter = models.OneToOneField("stories.Chapter", on_delete=models.CASCADE, related_name="fact_reading")
    text_hash = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=200, blank=True)
    facts_found = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True)
    read_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.chapter_id}: {self.facts_found} facts ({self.model or self.note[:40]})"


class ModelProfile(models.Model):
    """What the self-test measured of a configured model (agents/services/capabilities.py): whether it may judge,
    read facts and rewrite to a critique. One row per provider and model, replaced by each new test."""

    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=200)
    capable = models.BooleanField()
    passed = models.PositiveSmallIntegerField()
    asked = models.PositiveSmallIntegerField()
    answers = models.JSONField(default=list)  # each case: name, the answer (cut short), right or not
    measured_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "model"], name="one_profile_per_model")]

    def __str__(self):
        return f"{self.provider} {self.model}: {self.summary()}"

    def summary(self) -> str:
        verdict = "capable" if self.capable else "treated as small"
        return f"self-test {self.measured_at:%Y-%m-%d %H:%M}: {self.passed} of {self.asked} right, {verdict}"


class StoryPatternQuerySet(models.QuerySet):
    def shown(self):
        """What the bible lists: not dismissed, and not rejected by a capable model."""
        return self.filter(dismissed=False).exclude(verdict=StoryPattern.Verdict.NOT_FOUND)


class StoryPattern(models.Model):
    """A narrative pattern (trope) found in a story, with the passage that carries it most. Found again each time
    the story is read for patterns; a pattern the writer dismissed stays dismissed."""

    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="patterns")
    key = models.CharField(max_length=80)  # the catalogue's key (agents/discovery/tropes.json)
    score = models.FloatField()
    similarity = models.FloatField()
    cues = models.JSONField(default=list, blank=True)
    chapter = models.ForeignKey("stories.Chapter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    start_offset = models.PositiveIntegerField(null=True, blank=True)
    excerpt = models.TextField(blank=True)
    dismissed = models.BooleanField(default=False)
    found_at = models.DateTimeField(auto_now=True)

    class Verdict(models.TextChoices):
        UNJUDGED = "", "Not judged (no capable model)"
        CONFIRMED = "confirmed", "Confirmed"
        NOT_FOUND = "not_found", "Not found by the model"

    # A capable model's judgement of the passage (agents/discovery/judge.py), with the sentence it quoted.
    verdict = models.CharField(max_length=10, choices=Verdict.choices, default="", blank=True)
    quote = models.TextField(blank=True)

    objects = StoryPatternQuerySet.as_manager()

    class Meta:
        ordering = ["-score"]
        constraints = [
            # One row per pattern per story: a second reading updates it (and keeps it dismissed).
            models.UniqueConstraint(fields=["story", "key"], name="story_pattern_once"),
        ]

    def __str__(self):
        return f"{self.key} in story {self.story_id}"


class PatternReading(models.Model):
    """When a story was last read for patterns, and what its chapters' memory was then: a new reading is
    offered only when the passages changed."""

    story = models.OneToOneField("stories.Story", on_delete=models.CASCADE, related_name="pattern_reading")
    digest = models.CharField(max_length=64)
    passages = models.PositiveIntegerField(default=0)
    read_at = models.DateTimeField(auto_now=True)
    judged_by = models.CharField(max_length=200, blank=True)  # the model that confirmed the candidates
    note = models.CharField(max_length=300, blank=True)  # why they were not confirmed, for the bible

    def __str__(self):
        return f"patterns of story {self.story_id}, {self.passages} passages"


class StyleReading(models.Model):
    """A chapter's style figures (agents/discovery/style.py) for the version of its text they were measured on;
    the style report and the writer's norm read these instead of measuring every chapter again."""

    chapter = models.OneToOneField("stories.Chapter", on_delete=models.CASCADE, related_name="style_reading")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    figures = models.JSONField(default=dict)
    measured_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The writer's norm: their most recently measured chapters across the library.
            models.Index(fields=["owner", "-measured_at"], name="style_reading_owner_idx"),
        ]

    def __str__(self):
        return f"style of chapter {self.chapter_id} v{self.version}"
