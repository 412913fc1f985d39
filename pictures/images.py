"""Every image that enters the app passes through `clean()`: uploaded by a writer or made by an image service.

The type is read from the content (never the file name), size and pixel count are bounded before the pixels are
decoded (a decompression bomb is refused, not expanded), and the image is encoded again from its pixels, so no
metadata survives (EXIF with its GPS position, PNG text chunks, ICC profiles, anything appended after the data).
"""

import io
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from core.sandbox import Unreadable

ACCEPTED = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
THUMBNAIL_SIZE = (512, 512)
THUMBNAIL_QUALITY = 80


class PictureRejected(Unreadable):
    """The data is not an image the app accepts; the message says why, for the writer."""


@dataclass
class CleanImage:
    data: bytes  # the original, encoded again without metadata (PNG, or JPEG for photographs sent as JPEG)
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes  # WebP, at most THUMBNAIL_SIZE


def clean(data: bytes, max_bytes: int | None = None, max_pixels: int | None = None) -> CleanImage:
    """The image re-encoded from its pixels (its first frame), within the limits (PICTURE_MAX_BYTES and
    PICTURE_MAX_PIXELS unless given: a reader in the sandbox, with no Django settings, gives them)."""
    max_bytes = max_bytes or settings.PICTURE_MAX_BYTES
    max_pixels = max_pixels or settings.PICTURE_MAX_PIXELS
    if len(data) > max_bytes:
        raise PictureRejected(f"The image is {megabytes(len(data))}; the limit is {megabytes(max_bytes)}.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ACCEPTED:
                raise PictureRejected(f"{image.format} images are not accepted: use PNG, JPEG, WebP or GIF.")
            width, height = image.size
            if width * height > max_pixels:
                raise PictureRejected(
                    f"The image is {width:,} × {height:,} pixels; the limit is {max_pixels / 1e6:.0f} megapixels."
                )
            source_format = image.format
            image.seek(0)  # an animated GIF or WebP: its first frame
            image.load()
            pixels = ImageOps.exif_transpose(image)  # keep the orientation the camera recorded, then drop EXIF
    except PictureRejected:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow refuses on its own past twice its limit, before our check could print the size.
        raise PictureRejected(
            f"The image has far more pixels than the limit of {max_pixels / 1e6:.0f} megapixels."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PictureRejected("The file is not an image the app can read (PNG, JPEG, WebP or GIF).") from exc
    has_alpha = pixels.mode in ("RGBA", "LA", "PA") or (pixels.mode == "P" and "transparency" in pixels.info)
    pixels = pixels.convert("RGBA" if has_alpha else "RGB")
    photo = source_format == "JPEG"
    original = encode(pixels, "JPEG" if photo else "PNG", quality=92) if photo else encode(pixels, "PNG")
    thumb = pixels.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    return CleanImage(
        data=original,
        content_type="image/jpeg" if photo else "image/png",
        extension="jpg" if photo else "png",
        width=pixels.width,
        height=pixels.height,
        thumbnail=encode(thumb, "WEBP", quality=THUMBNAIL_QUALITY),
    )


def megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")


def encode(image: Image.Image, format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)  # no exif= or pnginfo=: nothing but the pixels is written
    return out.getvalue()


def save_clean(cleaned: CleanImage, folder: Path, name: str) -> dict:
    """A sandboxed reader's cleaned image as files in its folder, described for `load_clean`."""
    (folder / f"{name}.{cleaned.extension}").write_bytes(cleaned.data)
    (folder / f"{name}-thumb.webp").write_bytes(cleaned.thumbnail)
    fields = {k: v for k, v in asdict(cleaned).items() if k not in ("data", "thumbnail")}
    return {**fields, "file": f"{name}.{cleaned.extension}", "thumbnail_file": f"{name}-thumb.webp"}


def load_clean(described: dict, file) -> CleanImage:
    """The cleaned image a reader described (`file(name)` gives the path of a file it made)."""
    if described.get("content_type") not in ACCEPTED.values() or described.get("extension") not in ("png", "jpg"):
        raise PictureRejected("The picture could not be read.")
    return CleanImage(
        data=file(described["file"]).read_bytes(), content_type=described["content_type"],
        extension=described["extension"], width=int(described["width"]), height=int(described["height"]),
        thumbnail=file(described["thumbnail_file"]).read_bytes(),
    )  # fmt: skip


def read_upload(data: bytes, folder: Path, *, max_bytes: int, max_pixels: int) -> dict:
    """The sandbox's entry point: the image cleaned into `folder`, described for `load_clean`."""
    return save_clean(clean(data, max_bytes, max_pixels), folder, "picture")


def clean_files(data: bytes, folder: Path, *, files: list[str], max_bytes: int, max_pixels: int) -> list[dict]:
    """The sandbox's entry point for a batch: each file (written by a reader before) cleaned into `folder`."""
    return [
        save_clean(clean(Path(path).read_bytes(), max_bytes, max_pixels), folder, f"picture-{index}")
        for index, path in enumerate(files)
    ]
