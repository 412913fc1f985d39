from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from characters.models import Character
from core import uploads
from core.bodylimit import accepts_upload
from core.http import file_chunks, next_url
from core.models import Upload

from .models import Picture


@login_required
def picture_file(request, pk, variant):
    """The picture or its thumbnail, to its owner and to those whose shared stories show it (anyone else gets 404,
    like any other object)."""
    return serve(get_object_or_404(Picture.objects.visible_to(request.user), pk=pk), variant)


def serve(picture, variant: str) -> StreamingHttpResponse:
    field = picture.thumbnail if variant == "thumbnail" else picture.image
    try:
        file = field.open("rb")
    except FileNotFoundError:
        raise Http404("The picture's file is missing.") from None
    response = StreamingHttpResponse(
        file_chunks(file), content_type="image/webp" if variant == "thumbnail" else picture.content_type
    )
    response["Content-Length"] = str(field.size)
    response["Cache-Control"] = "private, max-age=86400"  # the file under an id never changes
    response["Content-Disposition"] = f'inline; filename="{picture.pk}.{field.name.rsplit(".", 1)[-1]}"'
    return response


@accepts_upload("PICTURE_MAX_BYTES")
@login_required
@require_POST
def portrait_upload(request, character_pk):
    """The writer's own portrait of a character: cleaned like any image by a worker (pictures/tasks.py), and
    current once it is."""
    character = get_object_or_404(Character.objects.for_user(request.user), pk=character_pk)
    return uploads.accept(
        request, Upload.Kind.PICTURE, "portrait", settings.PICTURE_MAX_BYTES, "image", "an image file to upload",
        "pictures.tasks.read_portrait", character=character.pk, back=next_url(request) or character.get_absolute_url(),
    )  # fmt: skip


@login_required
@require_POST
def picture_delete(request, pk):
    picture = get_object_or_404(Picture.objects.for_user(request.user), pk=pk)
    target = picture.character if picture.kind == Picture.Kind.PORTRAIT else None
    picture.delete()
    messages.success(request, "Deleted the picture.")
    return redirect(next_url(request) or target or "dashboard")
