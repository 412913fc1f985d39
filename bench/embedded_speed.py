"""The built-in model's speed through the app against llama-cpp-python alone, with the same model and threads.

    .venv/bin/python bench/embedded_speed.py [--tokens 300] [--runs 3]

The app's path (agents/services/llm.py, streaming, as a worker writes a draft) should add next to nothing over the
library's own speed, which is the floor. Threads are what a worker uses (EMBEDDED_LLM_THREADS: the cores divided
among RQ_WORKERS); both sides run in this one process, one after the other, so they get the same cores.
"""

import argparse
import statistics
import time

from common import setup_django, write_result

PROMPT = [
    {"role": "system", "content": "You are a novelist. Write vivid, concrete prose."},
    {"role": "user", "content": "Write the opening of a chapter: a lighthouse keeper finds a stranger on the rocks."},
]


def app_run(tokens: int) -> tuple[float, int]:
    from agents.services import llm

    started = time.perf_counter()
    stream = llm.stream(PROMPT, model="embedded", max_tokens=tokens, temperature=0.8, seed=1, cache=False)
    text = "".join(stream)
    seconds = time.perf_counter() - started
    return seconds, stream.result.completion_tokens if stream.result else len(text.split())


def library_run(tokens: int) -> tuple[float, int]:
    from agents.services.providers import EmbeddedProvider

    llama = EmbeddedProvider.llama()  # the same model file, context and threads the app loads
    started = time.perf_counter()
    made = 0
    for event in llama.create_chat_completion(messages=PROMPT, max_tokens=tokens, temperature=0.8, seed=1,
                                              stream=True):  # fmt: skip
        made += bool(event["choices"][0]["delta"].get("content"))
    return time.perf_counter() - started, made


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    library_run(16)  # load the model once, outside the timings
    figures = {}
    for name, run in (("library", library_run), ("app", app_run)):
        rates = []
        for _ in range(args.runs):
            seconds, made = run(args.tokens)
            rates.append(made / seconds)
        figures[name] = {"tokens_per_second_median": round(statistics.median(rates), 1),
                         "runs": [round(r, 1) for r in rates]}  # fmt: skip
        print(f"{name:8} {figures[name]['tokens_per_second_median']:6.1f} tokens/s  (runs: {figures[name]['runs']})")
    floor, app = figures["library"]["tokens_per_second_median"], figures["app"]["tokens_per_second_median"]
    result = {
        "threads": settings.EMBEDDED_LLM_THREADS, "tokens": args.tokens, **figures,
        "app_over_library": round(app / floor, 3) if floor else None,
    }  # fmt: skip
    print(f"the app at {result['app_over_library']} of the library's speed, {settings.EMBEDDED_LLM_THREADS} thread(s)")
    print(f"written to {write_result('embedded_speed', result)}")


if __name__ == "__main__":
    main()
