"""A story as a book: Markdown (a zip with its images when it has pictures) or EPUB, and the page that offers them."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from core.http import download
from pictures.models import Picture
from stories.access import WRITE, get_story_for_user

from .export import BookPictures, export_filename, story_docx, story_epub, story_markdown


def book_pictures(story) -> BookPictures:
    return BookPictures(*Picture.objects.in_book(story))


@login_required
def export_markdown(request, pk):
    """Markdown, or with pictures a zip of a folder with the Markdown and its images/."""
    story = get_story_for_user(request, pk, WRITE)
    pictures = book_pictures(story)
    extension, content_type = ("zip", "application/zip") if pictures else ("md", "text/markdown; charset=utf-8")
    return download(
        lambda out: story_markdown(story, story.chapters.all(), out, pictures),
        export_filename(story, extension),
        content_type,
    )


@login_required
def export_epub(request, pk):
    story = get_story_for_user(request, pk, WRITE)
    author = request.user.display_name or request.user.email.split("@")[0]
    pictures = book_pictures(story)
    return download(
        lambda out: story_epub(story, story.chapters.all(), author, out, pictures),
        export_filename(story, "epub"),
        "application/epub+zip",
    )


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@login_required
def export_docx(request, pk):
    story = get_story_for_user(request, pk, WRITE)
    author = request.user.display_name or request.user.email.split("@")[0]
    return download(lambda out: story_docx(story, story.chapters.all(), author, out), export_filename(story, "docx"),
                    DOCX)  # fmt: skip


@login_required
def export_page(request, pk):
    story = get_story_for_user(request, pk, WRITE)
    chapters = story.chapters.only("title", "word_count", "order")
    return render(request, "stories/export.html", {"story": story, "chapters": chapters, "section": "export"})
