"""`make run`'s supervisor: a crashed process comes back; one that keeps crashing stops everything with its name."""

import io
import os
import signal
import sys
import threading
import time

from storyassistant.management.commands.serve import Supervisor


def test_a_killed_process_is_started_again_and_one_that_keeps_failing_stops_the_app():
    specs = {
        "worker 1": [sys.executable, "-c", "import time; time.sleep(120)"],
        "maintenance": [sys.executable, "-c", "raise SystemExit(3)"],
    }
    out = io.StringIO()
    supervisor = Supervisor(specs, dict(os.environ), out, out)
    supervisor.start_all()
    first = supervisor.processes["worker 1"]
    threading.Timer(1.0, lambda: os.kill(first.pid, signal.SIGKILL)).start()
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    started = time.monotonic()
    try:
        supervisor.run()  # returns once "maintenance" has failed more than MAX_RESTARTS times in a minute
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
    log = out.getvalue()
    assert time.monotonic() - started < 30
    assert "The worker 1 process exited (code -9); starting it again." in log
    assert supervisor.processes["worker 1"].pid != first.pid
    assert "The maintenance process keeps exiting (code 3); stopping." in log
    assert all(process.poll() is not None for process in supervisor.processes.values())  # nothing left running
