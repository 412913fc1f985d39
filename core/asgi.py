"""Django's ASGI handler, with each request's synchronous work on a thread kept from earlier requests.

Django runs a request's synchronous parts (middleware, the view, the signals around it) on a thread of the
request's own: stock, asgiref starts a new thread for every request and a second one to join it afterwards, and
starting a thread blocks the event loop until the new thread is scheduled, which on a busy server is where the
time goes (a fifth of a web process's CPU under the load benchmark, and a wait for every request behind it).
Here each request borrows a single-thread executor from an idle stack (asgiref's ThreadSensitiveContext takes
one) and gives it back, so a thread serves request after request, as in a WSGI server.

At most `threads` requests (settings.WEB_THREADS) run their synchronous code at once per process; more wait their
turn on the event loop, where waiting costs no interpreter time.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler


class ReusedThreadsASGIHandler(ASGIHandler):
    def __init__(self, threads: int):
        super().__init__()
        self.threads = threads
        self.slots = asyncio.Semaphore(threads)
        self.idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with self.slots:
            executor = self.idle.pop() if self.idle else ThreadPoolExecutor(1, thread_name_prefix="request")
            try:
                async with ThreadSensitiveContext(executor=executor):
                    await self.handle(scope, receive, send)
            except BaseException:
                executor.shutdown(wait=False)  # the thread ends once whatever it still runs is done
                raise
            # A request whose client left is answered no further, but its view may still be running on the
            # thread: the next request's work then queues behind it on that thread, never beside it.
            self.idle.append(executor)
