"""Run the whole app: migrations, a demo account, daphne (HTTP + websockets) and RQ workers.

The embedded PostgreSQL and Redis (when DATABASE_URL / REDIS_URL are unset) were started by settings when this
command loaded; the web and worker processes get their URLs explicitly, so this process owns them and they stop
when it does.
"""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from storyassistant.embedded import database_url
from storyassistant.models import User


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class Command(BaseCommand):
    help = "Run Story Assistant: migrate, create the demo account, start the web server and RQ workers."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("RQ_WORKERS", "2")))
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo account.")

    def handle(self, *args, host, port, workers, no_demo, **options):
        if port_in_use(host, port):
            raise CommandError(
                f"Something is already listening on {host}:{port}. If Story Assistant is running, open "
                f"http://{host}:{port}/; otherwise pass --port."
            )
        call_command("migrate", interactive=False, verbosity=0)
        demo = None if no_demo else self.ensure_demo_account()

        env = os.environ.copy()
        env["DATABASE_URL"] = database_url(settings.DATABASES["default"])
        env["REDIS_URL"] = settings.REDIS_URL
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "storyassistant.asgi:application"],
                env=env,
            )
        ]
        for _ in range(workers):
            children.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "rqworker", "--with-scheduler", *settings.RQ_QUEUE_NAMES], env=env
                )
            )
        self.wait_for_port(host, port, children[0])
        from generation.tasks import schedule_maintenance

        schedule_maintenance()  # resumes abandoned generations and keeps the line moving

        self.stdout.write(self.style.SUCCESS(f"\nStory Assistant is running at http://{host}:{port}/"))
        if demo:
            self.stdout.write(f"Sign in with {demo[0]} / {demo[1]}")
        self.stdout.write("Press Ctrl+C to stop.\n")
        self.supervise(children)

    def ensure_demo_account(self):
        email, password = settings.DEMO_EMAIL, settings.DEMO_PASSWORD
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password, display_name="Demo writer")
            from allauth.account.models import EmailAddress

            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        elif not user.check_password(password):
            # The demo password was changed in the app; say so rather than print a login that fails.
            return (email, "(the password you set)")
        return (email, password)

    def wait_for_port(self, host, port, process, timeout=60):
        deadline = time.monotonic() + timeout
        while not port_in_use(host, port):
            if process.poll() is not None:
                raise CommandError("The web server exited during start-up; see the messages above.")
            if time.monotonic() > deadline:
                raise CommandError(f"The web server did not open {host}:{port} within {timeout}s.")
            time.sleep(0.2)

    def supervise(self, children):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for child in children:
                    if child.poll() is not None:
                        self.stderr.write(f"A process exited unexpectedly ({' '.join(child.args[:4])}); stopping.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("Stopped.")
