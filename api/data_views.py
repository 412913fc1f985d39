"""The JSON API for the writer's data: stories, chapters, characters and world entries (list with pagination,
create, read, change), the OpenAPI document that describes the whole API, and a page that shows it. Same
authentication and limits as the rest of the API (api/http.py); other writers' objects answer 404."""

from django.db.models import Count, Sum
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from pydantic import RootModel

from characters.models import Character
from stories.access import OWN, READ, WRITE, stories_open_to
from stories.models import ChapterConflict, ChapterRevision, Story, WorldEntry
from stories.tasks import bring_into_live_document

from .http import Conflict, answer, api_view, body, owned, page_of, query, story_for
from .schema import (
    ROUTES,
    ChapterIn,
    ChapterOut,
    ChapterPatch,
    CharacterIn,
    CharacterOut,
    CharacterPatch,
    Error,
    StoriesQuery,
    StoryIn,
    StoryOut,
    StoryPatch,
    WorldEntryIn,
    WorldEntryOut,
    WorldEntryPatch,
)

# --- stories ---------------------------------------------------------------------------------------------------------


def with_totals(stories):
    return stories.annotate(chapter_total=Count("chapters"), words=Sum("chapters__word_count"))


def stories_of(user, role="any"):
    """The list: the user's own stories and those shared with them, each with the user's role."""
    stories = with_totals(stories_open_to(user).select_related("owner"))
    if role == "shared":
        return stories.exclude(owner=user)
    return stories if role == "any" else stories.filter(role=role)


def story_out(story) -> StoryOut:
    owner = story.owner.display_name or story.owner.email
    return StoryOut(id=story.pk, title=story.title, genre=story.genre, premise=story.premise,
                    chapters=story.chapter_total, words=story.words or 0, updated_at=story.updated_at,
                    role=story.role, owner=owner)  # fmt: skip


@api_view(["GET", "POST"])
def stories(request):
    if request.method == "GET":
        role = query(request, StoriesQuery, paged=True).role
        return page_of(request, stories_of(request.user, role).order_by("-updated_at", "pk"), story_out)
    data = body(request, StoryIn)
    story = Story.objects.create(owner=request.user, **data.model_dump())
    return answer(story_out(stories_of(request.user).get(pk=story.pk)), 201)


@api_view(["GET", "PATCH"])
def story(request, story_pk):
    found = story_for(request, story_pk, READ if request.method == "GET" else OWN)
    if request.method == "PATCH":
        changes = body(request, StoryPatch).model_dump(exclude_none=True)
        Story.objects.filter(pk=found.pk).update(**changes, updated_at=timezone.now())
    return answer(story_out(stories_of(request.user).get(pk=found.pk)))


# --- chapters -------------------------------------------------------------------------------------------------------


def chapter_out(chapter, with_content=False) -> ChapterOut:
    return ChapterOut(id=chapter.pk, title=chapter.title, order=chapter.order, version=chapter.version,
                      word_count=chapter.word_count, updated_at=chapter.updated_at,
                      content=chapter.content if with_content else None)  # fmt: skip


@api_view(["GET", "POST"])
def chapters(request, story_pk):
    found = story_for(request, story_pk, READ if request.method == "GET" else WRITE)
    if request.method == "GET":
        return page_of(request, found.chapters.defer("content").order_by("order"), chapter_out)
    data = body(request, ChapterIn)
    # Two added at once take different places (the story's row is locked while one is chosen).
    chapter = found.append_chapter(data.title, data.content, revision_author=request.user,
                                   revision_note="Added through the API")  # fmt: skip
    return answer(chapter_out(chapter, with_content=True), 201)


@api_view(["GET", "PATCH"])
def chapter(request, story_pk, chapter_pk):
    story = story_for(request, story_pk, READ if request.method == "GET" else WRITE, "chapter")
    found = owned(story.chapters, "chapter", pk=chapter_pk)
    if request.method == "PATCH":
        data = body(request, ChapterPatch)
        try:
            found = found.save_content(
                found.content if data.content is None else data.content,
                base_version=data.base_version or found.version, author=request.user, title=data.title,
                source=ChapterRevision.Source.WRITER, note="Changed through the API",
            )  # fmt: skip
        except ChapterConflict as conflict:
            message = "The chapter changed since that version; nothing was saved."
            raise Conflict(message, current_version=conflict.chapter.version) from conflict
        bring_into_live_document(found.pk)  # writers typing in it live see the change
    return answer(chapter_out(found, with_content=True))


# --- characters ------------------------------------------------------------------------------------------------------


def character_out(character) -> CharacterOut:
    return CharacterOut.model_validate({name: getattr(character, name) for name in CharacterOut.model_fields})


@api_view(["GET", "POST"])
def characters(request):
    if request.method == "GET":
        return page_of(request, Character.objects.for_user(request.user).order_by("name", "pk"), character_out)
    data = body(request, CharacterIn)
    return answer(character_out(Character.objects.create(owner=request.user, **data.model_dump())), 201)


@api_view(["GET", "PATCH"])
def character(request, character_pk):
    found = owned(Character.objects.for_user(request.user), "character", pk=character_pk)
    if request.method == "PATCH":
        changes = body(request, CharacterPatch).model_dump(exclude_none=True)
        for name, value in changes.items():
            setattr(found, name, value)
        # Only what the request changes: a portrait accepted meanwhile keeps the seed it gave the character.
        found.save(update_fields=[*changes, "updated_at"])
    return answer(character_out(found))


# --- world entries ---------------------------------------------------------------------------------------------------


def entry_out(entry) -> WorldEntryOut:
    return WorldEntryOut(id=entry.pk, kind=entry.kind, name=entry.name, description=entry.description,
                         time_period=entry.time_period, keys=(entry.metadata or {}).get("keys", []))  # fmt: skip


def save_entry(entry, fields: dict):
    changed = set(fields) - {"keys"}
    if "keys" in fields:
        entry.metadata = {**(entry.metadata or {}), "keys": [k[:200] for k in fields.pop("keys")]}
        changed.add("metadata")
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.save(update_fields=[*changed, "updated_at"] if entry.pk else None)
    return entry


@api_view(["GET", "POST"])
def world(request, story_pk):
    found = story_for(request, story_pk, WRITE)
    if request.method == "GET":
        return page_of(request, found.world_entries.order_by("kind", "name", "pk"), entry_out)
    entry = save_entry(WorldEntry(story=found), body(request, WorldEntryIn).model_dump())
    return answer(entry_out(entry), 201)


@api_view(["GET", "PATCH"])
def world_entry(request, story_pk, entry_pk):
    story = story_for(request, story_pk, WRITE, "world entry")
    found = owned(story.world_entries, "world entry", pk=entry_pk)
    if request.method == "PATCH":
        found = save_entry(found, body(request, WorldEntryPatch).model_dump(exclude_none=True))
    return answer(entry_out(found))


# --- the description -------------------------------------------------------------------------------------------------


def without_null_defaults(schema):
    """A field left out of a PATCH is None inside, not a null the client may send: the document shows no default."""
    if isinstance(schema, dict):
        return {k: without_null_defaults(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [without_null_defaults(item) for item in schema]
    return schema


def schema_ref(model, components: dict) -> dict:
    schema = without_null_defaults(model.model_json_schema(ref_template="#/components/schemas/{model}"))
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


ERRORS = {
    "400": "Invalid request (the fields that are wrong)", "401": "Not signed in", "404": "Not found, or not yours",
    "409": "The chapter changed since your base_version", "429": "Too many requests (see Retry-After)",
    "503": "The server is briefly unavailable; nothing was done (see Retry-After)",
}  # fmt: skip
BODY_ERRORS = {"413": "The body is larger than the server accepts", "415": "The body is not JSON"}
PAGE_FIELDS = {"count": {"type": "integer"}, "page": {"type": "integer"}, "pages": {"type": "integer"},
               "next": {"type": ["string", "null"]}}  # fmt: skip


def operation_of(summary, path, request_body, response, created: bool, components: dict) -> dict:
    error_ref = json_content({"$ref": "#/components/schemas/Error"})
    operation = {
        "summary": summary,
        "responses": {k: {"description": v, "content": error_ref} for k, v in ERRORS.items()},
    }
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    operation["parameters"] = [
        {
            "name": n,
            "in": "path",
            "required": True,
            "schema": {"type": "string" if n in ("task_id", "picture_id") else "integer"},
        }
        for n in names
    ]
    if request_body is not None:
        # A body whose every field may be left out may be left out itself.
        required = bool(request_body.model_json_schema().get("required")) or issubclass(request_body, RootModel)
        content = json_content(schema_ref(request_body, components))
        operation["requestBody"] = {"required": required, "content": content}
        operation["responses"] |= {k: {"description": v, "content": error_ref} for k, v in BODY_ERRORS.items()}
    if isinstance(response, tuple):
        operation["parameters"].append({"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}})
        items = schema_ref(response[1], components)
        schema = {"type": "object", "properties": {**PAGE_FIELDS, "results": {"type": "array", "items": items}}}
    elif response == "image":
        operation["responses"]["200"] = {"description": "The image", "content": {"image/*": {}}}
        return operation
    elif isinstance(response, str):
        schema = {"type": "object", "description": f"The task's {response} (see the README)."}
    else:
        schema = schema_ref(response, components)
    status = "202" if response == "task" else "201" if created else "200"
    operation["responses"][status] = {"description": "OK", "content": json_content(schema)}
    return operation


def openapi_document(base_url: str) -> dict:
    components: dict = {"Error": Error.model_json_schema()}
    paths: dict = {}
    for method, path, summary, request_body, response in ROUTES:
        created = method == "post" and not isinstance(response, str)
        query = request_body if method == "get" else None  # a GET's model is its query parameters
        body_model = None if method == "get" else request_body
        operation = operation_of(summary, path, body_model, response, created, components)
        for name, field in query.model_fields.items() if query else ():
            schema = query.model_json_schema()["properties"][name]
            operation["parameters"].append({"name": name, "in": "query", "required": False, "schema": schema,
                                            "description": field.description or ""})  # fmt: skip
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Story Assistant API", "version": "1",
            "description": "Send `Authorization: Bearer <token>` (make one under your account's API tokens), or use "
            "the browser session with the X-CSRFToken header on changes. Other writers' objects answer 404.",
        },
        "servers": [{"url": base_url}],
        "components": {"schemas": components, "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": paths,
    }  # fmt: skip


def body_name(operation: dict) -> str:
    ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    return ref.get("$ref", "").rsplit("/", 1)[-1]


def openapi(request):
    return JsonResponse(openapi_document(request.build_absolute_uri("/").rstrip("/")))


def api_docs(request):
    """The API, readable in a browser: every operation with its body and answer, from the same document."""
    document = openapi_document(request.build_absolute_uri("/").rstrip("/"))
    operations = [
        {"method": method.upper(), "path": path, "summary": operation["summary"],
         "body": body_name(operation), "statuses": sorted(operation["responses"])}
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]  # fmt: skip
    context = {"operations": operations, "schemas": document["components"]["schemas"],
               "openapi_url": reverse("api_openapi")}  # fmt: skip
    return render(request, "api/api_docs.html", context)
