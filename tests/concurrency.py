"""Running the same work on several threads at the same moment, as two tabs or two workers would."""

import threading

from django.db import connection


def at_once(count: int, work) -> list:
    """Start `count` threads together (a barrier), each calling work(); returns what each returned or raised.
    Each thread closes its own database connection."""
    barrier, results, lock = threading.Barrier(count), [], threading.Lock()

    def run():
        barrier.wait()
        try:
            outcome = work()
        except Exception as exc:  # noqa: BLE001 - the caller asserts on what each thread met
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
