"""50 posts to one channel that Slack lets through at one message a second.

The client's own retry handler has to wait out every 429; the measurement counts messages lost
(retries ran out), messages posted twice, and the time against the floor the rate sets. One
poster is what a single run sees; two is the ceiling the ``report_pipelines_slack`` pool allows
on this instance (dagster.yaml), the case where posters compete for the same second.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from benchmarks.harness import Outcome, Row, clean_environment, run_worker

NAME = "ratelimit"
TIME_GOAL = 1.2
PER_SECOND = 1.0


def measure_posts(messages: int, posters: int) -> dict:
    from benchmarks.fixtures import BOT_TOKEN, CHANNEL_ID, TEAM_ID, fake_slack
    from report_pipelines.slack.delivery import RATE_LIMIT_RETRIES, SlackDelivery, SlackDeliveryError

    slack = fake_slack()
    try:
        slack.set_rate("chat.postMessage", per_second=PER_SECOND)
        texts = [f"benchmark message {index:03d}" for index in range(messages)]
        pending = list(reversed(texts))
        lock = threading.Lock()
        failures: list[dict] = []

        def poster() -> None:
            # One client per poster, as each run worker builds its own.
            delivery = SlackDelivery(token=BOT_TOKEN, team_id=TEAM_ID, base_url=slack.url)
            while True:
                with lock:
                    if not pending:
                        return
                    text = pending.pop()
                try:
                    delivery.post_message(CHANNEL_ID, None, text)
                except SlackDeliveryError as err:
                    with lock:
                        failures.append({"text": text, "code": err.code, "message": str(err)})

        threads = [threading.Thread(target=poster, name=f"poster-{n}") for n in range(posters)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        posted = Counter(post["text"] for post in slack.posts)
        attempts = len(slack.calls_to("chat.postMessage"))
    finally:
        slack.stop()
    return {
        "messages": messages, "posters": posters, "seconds": seconds,
        "lost": sum(1 for text in texts if posted[text] == 0),
        "duplicated": sum(1 for text in texts if posted[text] > 1),
        "attempts": attempts, "rate_limit_retries": RATE_LIMIT_RETRIES,
        "failures": failures[:5], "failure_count": len(failures),
    }


def run(quick: bool) -> Outcome:
    messages = 10 if quick else 50
    outcome = Outcome(NAME)
    # At one message a second, N messages take N seconds (N - 1 strictly: the first goes at once).
    floor = messages / PER_SECOND
    variants = (1, 2)
    # Each variant has its own Slack and spends nearly all its time asleep in Retry-After, so
    # running them side by side halves the wall time without touching either's timing.
    with ThreadPoolExecutor(max_workers=len(variants)) as pool:
        futures = {
            posters: pool.submit(
                run_worker, "benchmarks.rate_limit:measure_posts",
                {"messages": messages, "posters": posters},
                env=clean_environment(), timeout=messages * 12 + 60,
            )
            for posters in variants
        }
        results = {posters: future.result() for posters, future in futures.items()}
    for posters, result in results.items():
        outcome.details[f"posters={posters}"] = result
        ratio = result["seconds"] / floor
        met = result["lost"] == 0 and result["duplicated"] == 0 and ratio <= TIME_GOAL
        outcome.rows.append(Row(
            benchmark="Slack 1 msg/s", case=f"{messages} posts, {posters} poster{'s' if posters > 1 else ''}",
            ours=result["seconds"], baseline=floor, ratio=ratio, unit="s",
            goal=f"0 lost, 0 dup, ≤ {TIME_GOAL:g}×", met=met,
            note=(f"lost {result['lost']}, duplicated {result['duplicated']}, "
                  f"{result['attempts']} attempts for {messages} messages"),
        ))
    return outcome
