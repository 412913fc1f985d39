"""Run the whole app: migrations, the demo account when asked (--demo), daphne (HTTP + websockets), RQ workers and the
maintenance loop.

The embedded PostgreSQL and Redis (when DATABASE_URL / REDIS_URL are unset) were started by settings when this
command loaded; the web and worker processes get their URLs explicitly, so this process owns them and they stop
when it does.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from core.models import User
from storyassistant.embedded import database_url
from storyassistant.management.demo_story import create_demo_story


def demo_password() -> str:
    """This install's demo password: made once, kept readable by its owner only."""
    path = settings.VAR_DIR / "demo_password"
    if not path.exists():
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def default_web_processes() -> int:
    """One per core and one more: while a process waits for the database, another uses the core (bench/load.py's
    typing mix on 2 cores, two threads each: save p95 79-100 ms with three processes, 80 ms with four, 139 ms with
    two). Each process holds a database pool, hence the cap."""
    return min((os.cpu_count() or 1) + 1, 8)


class Command(BaseCommand):
    help = "Run Story Assistant: migrate, start the web server, RQ workers and maintenance (--demo: a demo account)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("RQ_WORKERS", "2")))
        parser.add_argument(
            "--web-processes",
            type=int,
            default=int(os.environ.get("WEB_PROCESSES", "0")) or default_web_processes(),
            help="daphne processes sharing the port (default: one per core and one more, at most 8)",
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="Create the demo account with its sample story (make run does): for trying the app on your own "
            "machine, never on a public site. Its password is DEMO_PASSWORD, or one made for this install.",
        )

    def handle(self, *args, host, port, workers, web_processes, demo, **options):
        if port_in_use(host, port):
            raise CommandError(
                f"Something is already listening on {host}:{port}. If Story Assistant is running, open "
                f"http://{host}:{port}/; otherwise pass --port."
            )
        call_command("migrate", interactive=False, verbosity=0)
        demo = self.ensure_demo_account() if demo else None
        connection.close_pool()  # this process only supervises from here on: it holds no connection

        env = os.environ.copy()
        env["DATABASE_URL"] = os.environ.get("DATABASE_URL") or database_url(settings.DATABASES["default"])
        env["REDIS_URL"] = os.environ.get("REDIS_URL") or settings.REDIS_URL
        env["RQ_WORKERS"] = str(workers)  # the built-in model shares the cores among them (EMBEDDED_LLM_THREADS)
        python = [sys.executable, "-u"]
        # One listening socket, opened here and inherited by every web process: the kernel hands each new
        # connection to whichever process accepts first, so several processes (one interpreter lock each) share
        # the port without a proxy in front.
        listener = socket.create_server((host, port), backlog=2048)
        listener.set_inheritable(True)
        daphne = ["-m", "daphne", "--fd", str(listener.fileno()), "storyassistant.asgi:application"]
        specs = {f"web {number}": python + daphne for number in range(1, web_processes + 1)}
        for number in range(1, workers + 1):
            specs[f"worker {number}"] = python + ["manage.py", "rqworker", "--with-scheduler", *settings.RQ_QUEUE_NAMES]
        specs["maintenance"] = python + ["manage.py", "maintenance"]
        supervisor = Supervisor(specs, env, self.stdout, self.stderr, pass_fds=[listener.fileno()])
        supervisor.start_all()
        try:
            self.wait_for_health(host, port, supervisor.processes["web 1"])
        except CommandError:
            supervisor.stop_all()
            raise

        self.stdout.write(self.style.SUCCESS(f"\nStory Assistant is running at http://{host}:{port}/"))
        if demo:
            self.stdout.write(f"Sign in with {demo[0]} / {demo[1]}")
        self.stdout.write("Press Ctrl+C to stop.\n")
        self.stdout.flush()  # also when the output goes to a file or a pipe, not a terminal
        supervisor.run()

    def ensure_demo_account(self):
        """The demo account (once, with its sample story), and the login to print. Its password is DEMO_PASSWORD,
        or one made at random for this install and kept in VAR_DIR/demo_password: a known password on an account
        that anyone can guess would be a way in to any site started with --demo."""
        email, password = settings.DEMO_EMAIL, settings.DEMO_PASSWORD or demo_password()
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password, display_name="Demo writer")
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
            create_demo_story(user)  # once, with the account: a writer who deletes it does not get it back
        elif not user.check_password(password):
            # The demo password was changed in the app; say so rather than print a login that fails.
            return (email, "(the password you set)")
        return (email, password)

    def wait_for_health(self, host, port, process, timeout=120):
        """The port is open from the start (this process holds it); ready means a web process answers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5):
                    return
            except urllib.error.HTTPError:
                return  # it answered (503 while a worker is still starting is fine)
            except OSError:
                pass
            if process.poll() is not None:
                raise CommandError("The web server exited during start-up; see the messages above.")
            if time.monotonic() > deadline:
                raise CommandError(f"The web server did not answer on {host}:{port} within {timeout}s.")
            time.sleep(0.3)


class Supervisor:
    """Keeps the app's processes running: one that exits on its own (a crashed worker, a web server killed by the
    system) is started again, unless it keeps failing, in which case everything stops with its name."""

    MAX_RESTARTS, WINDOW = 5, 60.0
    # Workers and maintenance run at a lower CPU priority: on a small machine a page a writer is waiting for comes
    # before re-embedding a chapter.
    NICENESS = {"worker": 10, "maintenance": 10}

    def __init__(self, specs: dict, env: dict, stdout, stderr, pass_fds=()):
        self.specs, self.env, self.stdout, self.stderr = specs, env, stdout, stderr
        self.pass_fds = tuple(pass_fds)
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, list[float]] = {name: [] for name in specs}
        self.stopping = False

    def start(self, name):
        kind = name.split()[0]  # connections show as storyassistant-web, -worker, -maintenance
        env = {**self.env, "DATABASE_APPLICATION_NAME": f"storyassistant-{kind}"}
        niceness = self.NICENESS.get(kind, 0)
        self.processes[name] = subprocess.Popen(
            self.specs[name], env=env, pass_fds=self.pass_fds, preexec_fn=lambda: os.nice(niceness)
        )

    def start_all(self):
        for name in self.specs:
            self.start(name)

    def stop(self, signum=None, frame=None):
        self.stopping = True

    def run(self):
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        try:
            while not self.stopping:
                for name, process in list(self.processes.items()):
                    if process.poll() is not None and not self.stopping:
                        self.restart(name, process.returncode)
                time.sleep(0.5)
        finally:
            self.stop_all()

    def restart(self, name, code):
        now = time.monotonic()
        recent = [t for t in self.restarts[name] if now - t < self.WINDOW] + [now]
        self.restarts[name] = recent
        if len(recent) > self.MAX_RESTARTS:
            self.stderr.write(f"The {name} process keeps exiting (code {code}); stopping.")
            self.stopping = True
            return
        self.stderr.write(f"The {name} process exited (code {code}); starting it again.")
        self.start(name)

    def stop_all(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("Stopped.")
