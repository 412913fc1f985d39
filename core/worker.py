"""The RQ worker class the app runs (settings.RQ["WORKER_CLASS"])."""

from django.db import close_old_connections, connection
from rq.worker import SimpleWorker


class Worker(SimpleWorker):
    """Runs jobs in the worker process itself, so the embedding model and the embedded LLM load once per worker
    rather than once per job (scale with more worker processes). Around each job the database connection goes
    back to the pool, as a web request's does, so an idle worker holds none, and a connection broken by a
    database restart is checked and replaced before the next job uses it."""

    def execute_job(self, job, queue):
        close_old_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            connection.close()
