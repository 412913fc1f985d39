"""Zip archives writers send (manuscripts, backups) and the ones the app writes (books, backups)."""

import io
import zipfile
import zlib


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


class Reader:
    """Entries of an archive, read no further than `budget` bytes in all (a zip bomb's headers can lie about
    sizes), whole or as a stream. Raises Damaged or TooLarge."""

    def __init__(self, archive: zipfile.ZipFile, budget: int):
        self.archive, self.left = archive, budget

    def names(self) -> set[str]:
        return set(self.archive.namelist())

    def read(self, name: str, limit: int | None = None) -> bytes:
        """One entry whole, at most `limit` bytes (and what is left of the budget)."""
        budget = self.left if limit is None else min(self.left, limit)
        try:
            with self.archive.open(name) as entry:
                data = entry.read(budget + 1)  # inflated as it goes: nothing of that size is set aside first
        except KeyError:
            raise Damaged(f"{name} is missing") from None
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
            raise Damaged(str(exc)) from exc
        if len(data) > budget:
            raise TooLarge(name)
        self.left -= len(data)
        return data

    def open(self, name: str) -> "BoundedEntry":
        try:
            return BoundedEntry(self.archive.open(name), self)
        except KeyError:
            raise Damaged(f"{name} is missing") from None
        except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
            raise Damaged(str(exc)) from exc


class BoundedEntry(io.RawIOBase):
    """A file object over one entry that counts what it reads against the reader's budget."""

    def __init__(self, entry, owner: Reader):
        self.entry, self.owner = entry, owner

    def readable(self):
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.entry.read(len(buffer))
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError) as exc:
            raise Damaged(str(exc)) from exc
        self.owner.left -= len(data)
        if self.owner.left < 0:
            raise TooLarge("the archive")
        buffer[: len(data)] = data
        return len(data)

    def close(self):
        self.entry.close()
        super().close()
