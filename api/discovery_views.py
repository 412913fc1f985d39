"""The JSON API for discovery: characters like one of yours, a story's narrative patterns, its style report, and
scenes like this one. Same authentication, limits and ownership as the rest of the API (api/http.py): another
writer's story or character answers 404."""

from agents.discovery import patterns, report, scenes, tropes
from agents.models import PatternReading
from agents.tasks import style_figures
from characters.models import Character
from stories.access import WRITE

from .http import Missing, answer, api_view, owned, query, story_for
from .schema import (
    ChapterStyleOut,
    CharacterLike,
    CharactersLikeOut,
    PatternOut,
    PatternsOut,
    RecommendationOut,
    SceneOut,
    ScenesOut,
    ScenesQuery,
    StyleFigures,
    StyleOut,
)


@api_view(["GET"])
def characters_like(request, character_pk):
    character = owned(Character.objects.filter(owner=request.user), "character", pk=character_pk)
    results = [CharacterLike(id=c.pk, name=c.name, likeness=round(c.similarity, 3), reasons=c.reasons)
               for c in character.characters_like()]  # fmt: skip
    return answer(CharactersLikeOut(results=results))


@api_view(["GET"])
def story_patterns(request, story_pk):
    story = story_for(request, story_pk, WRITE)
    catalogue = tropes.by_key()
    reading = PatternReading.objects.filter(story=story).first()
    results = [
        PatternOut(key=p.key, name=catalogue[p.key].name, category=catalogue[p.key].category,
                   description=catalogue[p.key].description, common_in_fiction=catalogue[p.key].common,
                   staple_of_genre=tropes.staple_in(catalogue[p.key], story.genre),
                   likelihood=round(p.score, 3), chapter_id=p.chapter_id, excerpt=p.excerpt, telling_words=p.cues,
                   verdict=p.verdict, quote=p.quote, dismissed=p.dismissed)
        for p in story.patterns.all()
        if p.key in catalogue
    ]  # fmt: skip
    return answer(PatternsOut(read_at=reading.read_at if reading else None, passages=reading.passages if reading else 0,
                              judged_by=reading.judged_by if reading else "", note=reading.note if reading else "",
                              chapters_changed_since=reading is not None and patterns.is_stale(story),
                              results=results))  # fmt: skip


@api_view(["GET"])
def story_style(request, story_pk):
    story = story_for(request, story_pk, WRITE)
    measured, pending = style_figures(story)
    norm = report.writer_norm(story.owner_id)
    said = report.recommendations(measured, norm, *report.telling(story))
    return answer(StyleOut(
        norm=norm,
        chapters=[ChapterStyleOut(chapter_id=c.pk, order=c.order, title=c.title, figures=StyleFigures(**f))
                  for c, f in measured],
        recommendations=[RecommendationOut(chapter_id=r["chapter"].pk, text=r["text"], quotes=r["quotes"])
                         for r in said],
        pending_chapter_ids=[c.pk for c in pending],
    ))  # fmt: skip


@api_view(["GET"])
def story_scenes(request, story_pk):
    story = story_for(request, story_pk, WRITE)
    asked = query(request, ScenesQuery)
    if not (asked.text.strip() or asked.a or asked.b or asked.kind):
        return answer(ScenesOut(results=[]))
    cast = {m.character_id: m.character.name for m in story.cast.select_related("character")}
    names = []
    for chosen in (asked.a, asked.b):
        if chosen:
            if chosen not in cast:
                raise Missing("No such character in this story.")
            names.append(cast[chosen])
    library = asked.scope == "library"  # the caller's own library; a shared story's scenes are its owner's
    found = scenes.find(request.user if library else story.owner, text=asked.text, names=names, kind=asked.kind,
                        story=None if library else story)  # fmt: skip
    results = [
        SceneOut(story_id=i.story_id, chapter_id=i.chapter_id, start=i.start_offset, end=i.end_offset, text=i.text,
                 score=round(i.score, 3) if hasattr(i, "score") else None)
        for i in found
    ]  # fmt: skip
    return answer(ScenesOut(results=results))
