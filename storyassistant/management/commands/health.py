from django.core.management.base import BaseCommand, CommandError

from core.health import CHECKS, run_checks


class Command(BaseCommand):
    help = "Check the database, pgvector, Redis and workers; exit non-zero if any is down (container healthchecks)."

    def add_arguments(self, parser):
        parser.add_argument("--only", nargs="*", choices=sorted(CHECKS), help="Run only these checks.")

    def handle(self, *args, only=None, **options):
        results = run_checks()
        down = []
        for name, result in results.items():
            if only and name not in only:
                continue
            self.stdout.write(f"{'ok  ' if result['ok'] else 'DOWN'} {name}: {result['detail']}")
            if not result["ok"]:
                down.append(name)
        if down:
            raise CommandError("down: " + ", ".join(down))
