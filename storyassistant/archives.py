"""Zip archives writers send (manuscripts, backups) and the ones the app writes (books, backups)."""

import io
import zipfile


class Damaged(ValueError):
    """Not a zip archive, or one that cannot be read."""


class TooLarge(ValueError):
    """More entries, or more bytes once expanded, than the caller allows: a zip bomb is refused unread."""


def open_zip(data: bytes, *, max_entries: int, max_unzipped: int) -> zipfile.ZipFile:
    """The archive, once its declared sizes are within the bounds (a reader must still stop at them, since an
    entry's header can lie)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise Damaged(str(exc)) from exc
    if len(entries) > max_entries or sum(e.file_size for e in entries) > max_unzipped:
        raise TooLarge(f"{len(entries)} entries")
    return archive


def copy_file(field, archive: zipfile.ZipFile, name: str) -> None:
    """A stored file (a FileField's file) into the archive, a block at a time: never in memory whole."""
    with field.open("rb") as source, archive.open(name, "w") as target:
        while block := source.read(64 * 1024):
            target.write(block)
