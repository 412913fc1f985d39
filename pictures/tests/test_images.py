"""Every image that enters is cleaned: type from content, bounded size and pixels, no metadata, a WebP thumbnail."""

import io

import pytest
from PIL import Image

from pictures.images import PictureRejected, clean
from tests.image_servers import png, png_claiming


def jpeg_with_gps_and_rotation() -> bytes:
    image = Image.new("RGB", (40, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"  # camera maker
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS position
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_metadata_is_stripped_and_orientation_applied():
    cleaned = clean(jpeg_with_gps_and_rotation())
    image = Image.open(io.BytesIO(cleaned.data))
    assert cleaned.content_type == "image/jpeg" and cleaned.extension == "jpg"
    assert (cleaned.width, cleaned.height) == (20, 40) == image.size  # turned as the camera meant
    assert not image.getexif() and b"SecretCam" not in cleaned.data


def test_png_text_chunks_are_dropped_and_the_thumbnail_is_webp():
    data = png(1200, 800, text_chunk="prompt: the whole workflow")
    assert b"the whole workflow" in data
    cleaned = clean(data)
    assert b"the whole workflow" not in cleaned.data and cleaned.content_type == "image/png"
    thumb = Image.open(io.BytesIO(cleaned.thumbnail))
    assert thumb.format == "WEBP" and thumb.size == (512, 341)


def test_the_type_comes_from_the_content_not_the_name():
    with pytest.raises(PictureRejected, match="not an image"):
        clean(b"<script>alert(1)</script>")
    with pytest.raises(PictureRejected, match="not an image"):
        clean(png()[:60])  # cut short: the header is there, the pixels are not
    tiff = io.BytesIO()
    Image.new("RGB", (8, 8)).save(tiff, "TIFF")
    with pytest.raises(PictureRejected, match="TIFF images are not accepted"):
        clean(tiff.getvalue())


def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded(settings):
    with pytest.raises(PictureRejected, match="8,000 × 6,000 pixels; the limit is 40 megapixels"):
        clean(png_claiming(8000, 6000))
    with pytest.raises(PictureRejected, match="far more pixels than the limit of 40 megapixels"):
        clean(png_claiming(60000, 60000))


def test_too_many_bytes_are_refused(settings):
    settings.PICTURE_MAX_BYTES = 1000
    with pytest.raises(PictureRejected, match=r"The image is \d KB; the limit is 1 KB"):
        clean(png(400, 400, colour=(1, 2, 3)) + b"\0" * 2000)


def test_a_transparent_gif_keeps_its_transparency_as_png():
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(out, "GIF", transparency=0)
    cleaned = clean(out.getvalue())
    assert cleaned.content_type == "image/png"
    assert Image.open(io.BytesIO(cleaned.data)).mode == "RGBA"
