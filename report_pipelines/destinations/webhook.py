"""A signed JSON POST: ``X-Report-Signature: sha256=<hex HMAC-SHA256 of the body>``.

The secret is read from the environment variable the destination names (``secret_env``), never
from the report file. 5xx and 429 answers and dropped connections are retried with backoff
(429's ``Retry-After`` is honoured); any other 4xx is final. A receiver may see a retried POST
twice after a 5xx it sent too late: ``X-Report-Delivery`` is the same on every attempt, to
deduplicate on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time

import requests

from report_pipelines.destinations.payload import ReportContent

ATTEMPTS = 4
BACKOFF_SECONDS = 1.0
TIMEOUT_SECONDS = 30


class DestinationError(RuntimeError):
    """A destination refused the report or could not be reached; ``final`` means do not retry."""

    def __init__(self, message: str, *, final: bool):
        super().__init__(message)
        self.final = final


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def secret_from(env_name: str | None) -> str | None:
    if env_name is None:
        return None
    secret = os.environ.get(env_name, "")
    if not secret:
        raise DestinationError(f"the webhook's secret_env {env_name} is not set where the run executes", final=True)
    return secret


def post_json(url: str, body: bytes, headers: dict[str, str], *, what: str) -> requests.Response:
    """POST with retries on 5xx, 429 and connection errors; raises DestinationError."""
    delay = BACKOFF_SECONDS
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = requests.post(url, data=body, headers={"Content-Type": "application/json", **headers},
                                     timeout=TIMEOUT_SECONDS)
        except requests.RequestException as err:
            if attempt == ATTEMPTS:
                # The exception's text repeats the URL, whose query may carry a token: name the kind only.
                raise DestinationError(
                    f"{what} could not be reached after {ATTEMPTS} attempts ({type(err).__name__})", final=False
                ) from None
        else:
            if response.status_code < 300:
                return response
            retryable = response.status_code == 429 or response.status_code >= 500
            if not retryable or attempt == ATTEMPTS:
                raise DestinationError(
                    f"{what} answered HTTP {response.status_code}: {response.text[:300]}"
                    + ("" if retryable else " (not retried: fix the destination)"),
                    final=not retryable,
                )
            wait = response.headers.get("Retry-After")
            if wait and wait.isdigit():
                delay = max(delay, float(wait))
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def send(url: str, secret_env: str | None, content: ReportContent, delivery_id: str) -> str:
    body = json.dumps(content.document(), ensure_ascii=False, sort_keys=True).encode()
    headers = {"X-Report-Delivery": delivery_id}
    secret = secret_from(secret_env)
    if secret is not None:
        headers["X-Report-Signature"] = signature(secret, body)
    post_json(url, body, headers, what="the webhook")
    return f"posted {len(body):,} bytes"
