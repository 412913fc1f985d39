"""Reading a writer's file in a limited child process: answers and files come back; a refusal keeps its reason;
too much memory or CPU time, a crash or a hang each end as a refusal the writer can read, within the bounds."""

import time

import pytest

from core import sandbox

LIMITS = sandbox.Limits(memory_bytes=256 * 1024 * 1024, cpu_seconds=2, output_bytes=1024 * 1024)
READERS = "core.tests.sandbox_readers"


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(b"hello")
    return path


def test_a_readers_answer_and_the_files_it_made_come_back(source):
    with sandbox.run(f"{READERS}:echo", source, LIMITS, name="greeting") as result:
        assert result.value == {"name": "greeting", "size": 5, "file": "copy.bin"}
        assert result.file("copy.bin").read_bytes() == b"hello"
        folder = result.folder
    assert not folder.exists()  # the child's files go when the caller is done with them


def test_a_refusal_keeps_the_readers_reason(source):
    with (
        pytest.raises(sandbox.Unreadable, match="not a file of the kind asked for"),
        sandbox.run(f"{READERS}:refuse", source, LIMITS),
    ):
        pass


@pytest.mark.parametrize(
    ("reader", "reason"),
    [("hog_memory", "more than 256 MB of memory"), ("hog_cpu", "more than 2 seconds of processing")],
)
def test_a_reader_past_a_limit_is_stopped_with_the_limit_named(source, reader, reason):
    started = time.monotonic()
    with pytest.raises(sandbox.OverLimit, match=reason), sandbox.run(f"{READERS}:{reader}", source, LIMITS):
        pass
    assert time.monotonic() - started < 10


def test_a_crash_and_a_hang_end_as_refusals(source):
    with pytest.raises(sandbox.Unreadable, match="its reader stopped"), sandbox.run(f"{READERS}:crash", source, LIMITS):
        pass
    quick = sandbox.Limits(LIMITS.memory_bytes, cpu_seconds=1, output_bytes=LIMITS.output_bytes)
    started = time.monotonic()
    with (
        pytest.raises(sandbox.OverLimit, match="took more than 7 seconds"),
        sandbox.run(f"{READERS}:sleep", source, quick),
    ):
        pass
    assert time.monotonic() - started < 12


def test_the_child_sees_no_secrets_and_cannot_name_files_outside_its_folder(source, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://user:secret@db/app")
    with sandbox.run(f"{READERS}:environment", source, LIMITS) as result:
        assert set(result.value["variables"]) <= {"PATH", "LANG", "PYTHONDONTWRITEBYTECODE", "LC_CTYPE", "PWD"}
    with sandbox.run(f"{READERS}:escape", source, LIMITS) as result, pytest.raises(sandbox.Unreadable):
        result.file(result.value["file"])


def test_the_childs_own_peak_memory_is_reported(source):
    with sandbox.run(f"{READERS}:echo", source, LIMITS, name="x") as result:
        assert 5 * 1024 * 1024 < result.peak_memory < 100 * 1024 * 1024
