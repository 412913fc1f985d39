"""Files writers send, read by a worker inside a limited child process.

The web process only stores the file (its size already bounded) and queues a job: it never parses it. The job
claims the upload, runs a reader in the sandbox (core.sandbox) within the memory and CPU limits, and
records what came of it (a message and where to go next) or why it could not be read; the writer's page polls
the upload until then. A writer has at most one file waiting or being read, and sends at most UPLOADS_PER_HOUR
an hour, so an account costs the site at most one bounded job at a time. A file whose reading stopped with its
worker is not read again (it may be what stopped it): the maintenance round marks it failed.
"""

import logging
import shutil
import tempfile
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.shortcuts import redirect
from django.utils import timezone
from redis.exceptions import RedisError
from rq.job import JobStatus

from . import sandbox
from .http import uploaded
from .models import Upload
from .queues import get_queue
from .refusals import too_many

log = logging.getLogger(__name__)
QUEUE = "background"
STILL_READING = "Your previous file is still being read. Wait for it to finish, then send this one."
FAILED_UNEXPECTEDLY = (
    "Something went wrong while reading the file, so nothing was saved. Try again; if it happens again, the file "
    "may be damaged."
)


class Busy(Exception):
    """The writer already has a file waiting or being read, or sent UPLOADS_PER_HOUR in the last hour."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def limits(output_bytes: int | None = None) -> sandbox.Limits:
    return sandbox.Limits(
        memory_bytes=settings.UPLOAD_MEMORY_MB * 1024 * 1024,
        cpu_seconds=settings.UPLOAD_CPU_SECONDS,
        output_bytes=output_bytes or settings.UPLOAD_OUTPUT_MAX_BYTES,
    )


def receive(owner, kind: str, file, job: str, **options) -> Upload:
    """Store the file and queue the job (a dotted path, called with the upload's id) to read it once this
    transaction commits. Raises Busy while the writer's previous file is still waiting or being read, or past
    UPLOADS_PER_HOUR."""
    mine = Upload.objects.for_user(owner)
    if mine.active().exists():
        raise Busy(STILL_READING, 10)
    if mine.filter(created_at__gte=timezone.now() - timedelta(hours=1)).count() >= settings.UPLOADS_PER_HOUR:
        raise Busy(f"You have sent {settings.UPLOADS_PER_HOUR} files in the last hour, this site's limit.", 600)
    upload = Upload(
        owner=owner, kind=kind, filename=(file.name or "file")[:255], size=file.size, job=job, options=options
    )
    upload.file.save(upload.pk.hex, file, save=False)
    try:
        with transaction.atomic():
            upload.save()
    except IntegrityError:  # another upload of this writer's got in first
        upload.file.delete(save=False)
        raise Busy(STILL_READING, 10) from None
    transaction.on_commit(lambda: enqueue(upload))
    return upload


def accept(request, kind: str, field: str, limit: int, what: str, choose: str, job: str, **options):
    """A view's whole handling of a file upload: 413 past `limit` (before reading), 400 with no file, 429 while
    the writer's previous file is being read; else the file is stored, its job queued, and the writer sent to
    the upload's page, which follows it until it is read. `options` go to the job (and options["back"], the page
    with the form, to a failed upload's page)."""
    file, refused = uploaded(request, field, limit, what, choose)
    if refused:
        return refused
    try:
        upload = receive(request.user, kind, file, job, **options)
    except Busy as exc:
        return too_many(request, exc.retry_after, str(exc))
    return redirect(upload)


def job_id(upload: Upload) -> str:
    return f"upload-{upload.pk}"


def enqueue(upload: Upload):
    """Queue the upload's job. If Redis is down the upload waits; the maintenance round queues it again."""
    try:
        get_queue(QUEUE).enqueue(
            upload.job, upload.pk, job_id=job_id(upload), job_timeout=stale_after().total_seconds(), result_ttl=600
        )
    except RedisError:
        log.warning("Could not queue upload %s: Redis unavailable", upload.pk, exc_info=True)


def process(upload_id, handle) -> None:
    """Read one upload with `handle(upload) -> (message, next_url)`; safe to run twice (only a waiting upload is
    claimed). Unreadable (from the sandbox or the handler) fails it with the reason; anything else fails it with
    a plain message and is logged."""
    started = timezone.now()
    claimed = Upload.objects.filter(pk=upload_id, status=Upload.Status.WAITING).update(
        status=Upload.Status.READING, started_at=started
    )
    if not claimed:
        return
    upload = Upload.objects.get(pk=upload_id)
    with sandbox.measured() as peaks:
        try:
            message, next_url = handle(upload)
        except sandbox.OverLimit as exc:
            message = f"This file could not be read within the limits: {exc} Nothing was saved."
            status, next_url = Upload.Status.FAILED, ""
        except sandbox.Unreadable as exc:
            status, message, next_url = Upload.Status.FAILED, f"{exc} Nothing was saved.", ""
        except Exception:
            log.exception("Reading upload %s failed", upload_id)
            status, message, next_url = Upload.Status.FAILED, FAILED_UNEXPECTEDLY, ""
        else:
            status = Upload.Status.DONE
    finish(upload, status, message, next_url, peak_memory=max(peaks, default=None))


def finish(upload: Upload, status: str, message: str, next_url: str = "", peak_memory: int | None = None):
    """Record the outcome (only while this reading still holds the upload) and remove the file."""
    now = timezone.now()
    seconds = (now - upload.started_at).total_seconds() if upload.started_at else None
    Upload.objects.filter(pk=upload.pk, status=Upload.Status.READING, started_at=upload.started_at).update(
        status=status, message=message[:5000], next_url=next_url[:300], finished_at=now, seconds=seconds,
        peak_memory=peak_memory,
    )  # fmt: skip
    upload.file.delete(save=False)
    Upload.objects.filter(pk=upload.pk).update(file="")


@contextmanager
def local_copy(upload: Upload):
    """The stored file as a local path (the storage may be remote), read no further than its recorded size."""
    with tempfile.NamedTemporaryFile(prefix="storyassistant-upload-") as copy:
        with upload.file.open("rb") as stored:
            shutil.copyfileobj(_bounded(stored, upload.size), copy)
        copy.flush()
        yield Path(copy.name)


class _bounded:
    def __init__(self, file, size: int):
        self.file, self.left = file, size

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.file.read(n)
        self.left -= len(data)
        return data


@contextmanager
def read(upload: Upload, reader: str, output_bytes: int | None = None, **options):
    """Run `reader` on the upload in the sandbox; yields its sandbox.Result (raises Unreadable / OverLimit)."""
    with local_copy(upload) as path, sandbox.run(reader, path, limits(output_bytes), **options) as result:
        yield result


def stale_after() -> timedelta:
    """Longer than any reading can take: the sandbox's wall-clock bound, and the handler's own work after it."""
    return timedelta(seconds=sandbox.wall_seconds(limits()) + 600)


def give_up_stale(now=None) -> int:
    """Uploads whose reading stopped with its worker (a crash, a restart) fail with a message: a file that may
    have stopped a worker is not read again. Uploads waiting with no job (lost with Redis) are queued again, and
    finished ones are forgotten after KEEP_FINISHED. Returns how many failed."""
    now = now or timezone.now()
    failed = 0
    for upload in Upload.objects.filter(status=Upload.Status.READING, started_at__lt=now - stale_after()):
        finish(upload, Upload.Status.FAILED, "The worker reading this file stopped, so nothing was saved. Try again.")
        failed += 1
    Upload.objects.filter(finished_at__lt=now - KEEP_FINISHED).delete()
    queue = get_queue(QUEUE)
    for upload in Upload.objects.filter(status=Upload.Status.WAITING, created_at__lt=now - REQUEUE_AFTER):
        job = queue.fetch_job(job_id(upload))
        if job is None or job.get_status(refresh=False) not in (JobStatus.QUEUED, JobStatus.STARTED):
            enqueue(upload)
    return failed


REQUEUE_AFTER = timedelta(minutes=2)
KEEP_FINISHED = timedelta(days=30)  # what came of an upload stays on its page this long
