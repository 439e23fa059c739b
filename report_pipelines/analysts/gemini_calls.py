"""One Gemini generateContent request: its retries, what it cost, and why it failed.

:meth:`GeminiCalls.generate` sends a request through :class:`tenacity.Retrying`. Quota, overload
and gateway answers (:data:`RETRYABLE_STATUS`) and transport failures (a timeout, a refused or
dropped connection) are retried up to ``max_attempts`` times, counting the first; every other
error fails at once, because it would fail the same way again. Between attempts the wait is
``initial_delay * 2**(attempt - 1) * uniform(0.5, 1)``, never shorter than the delay Gemini asks
for in a ``google.rpc.RetryInfo`` detail, and never longer than ``max_delay``. The last failure
becomes a :class:`GeminiUnavailableError` whose message names the status and the attempts
("Gemini answered 429 RESOURCE_EXHAUSTED after 3 attempts"), fit for the report's fallback note.

Why tenacity and not the SDK's own ``HttpRetryOptions`` (checked against google-genai 3.6.1):

* The attempts must be counted, for the fallback note and the ``gemini_attempts`` metadata.
  ``HttpRetryOptions`` has only ``attempts``, ``initial_delay``, ``max_delay``, ``exp_base``,
  ``jitter`` and ``http_status_codes``: no callback. The SDK turns them
  (``_api_client.retry_args``) into a ``tenacity.Retrying`` inside its private API client whose
  only hook logs each retry at INFO. The count is neither returned with the response nor
  attached to the ``APIError`` re-raised after the last attempt; only the client's private,
  thread-local retry statistics hold it.
* Gemini's ``RetryInfo`` delay must be honoured: on a 429 it says when the quota frees up, and
  retrying sooner spends the attempts for nothing. The SDK waits with
  ``wait_exponential_jitter``, computed from the attempt number alone; nothing on the
  generateContent path reads ``RetryInfo`` (or a ``Retry-After`` header).
* Of httpx's errors the SDK retries only ``TimeoutException`` and ``ConnectError``, not a
  connection dropped mid-response, which is as transient.

With no ``retry_options`` the SDK makes exactly one attempt per call, so the retries here are
the only ones. tenacity is the library the SDK itself retries with.
"""

from __future__ import annotations

import importlib
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import tenacity
from google import genai
from google.genai import errors, types

from report_pipelines.formatting import clip, one_line, plural

if TYPE_CHECKING:
    import dagster as dg

API_KEY_ENV = "GOOGLE_API_KEY"
QUICK_MODEL_ENV = "GEMINI_QUICK_MODEL"
DEEP_MODEL_ENV = "GEMINI_DEEP_MODEL"

# Quota, overload and gateway errors are transient; anything else (bad key, unknown model,
# invalid request) would fail the same way again.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_REASON_CHARS = 200


def _http_modules() -> list[ModuleType]:
    modules = []
    for name in ("httpx2", "httpx"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue
    return modules


# The SDK sends requests with httpx2 when it is installed and httpx otherwise; a timeout or a
# dropped connection surfaces as that library's exception, not as a Gemini error.
_HTTP_MODULES = _http_modules()
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = tuple(m.TransportError for m in _HTTP_MODULES)
_TIMEOUT_ERRORS: tuple[type[BaseException], ...] = tuple(m.TimeoutException for m in _HTTP_MODULES)


class GeminiUnavailableError(RuntimeError):
    """Gemini produced no usable answer. The message says why and never contains the key."""


@dataclass
class Usage:
    """What the calls of one analysis cost, for the run's metadata."""

    model: str
    attempts: int = 0
    seconds: float = 0.0
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    thinking_tokens: int | None = None

    def count_tokens(self, response: types.GenerateContentResponse) -> None:
        usage = response.usage_metadata
        if usage is None:
            return
        self.prompt_tokens = _add(self.prompt_tokens, usage.prompt_token_count)
        self.output_tokens = _add(self.output_tokens, usage.candidates_token_count)
        self.thinking_tokens = _add(self.thinking_tokens, usage.thoughts_token_count)

    def write_metadata(
        self,
        context: dg.OpExecutionContext | None,
        *,
        estimated: int,
        failure: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Log the outcome and add the ``gemini_`` keys to the op's output metadata."""
        if context is None:
            return
        metadata: dict[str, Any] = {
            "gemini_model": self.model,
            "gemini_status": "fallback" if failure else "ok",
            "gemini_attempts": self.attempts,
            "gemini_latency_seconds": round(self.seconds, 3),
            "gemini_estimated_prompt_tokens": estimated,
        }
        for key, value in (
            ("gemini_prompt_tokens", self.prompt_tokens),
            ("gemini_output_tokens", self.output_tokens),
            ("gemini_thinking_tokens", self.thinking_tokens),
        ):
            if value is not None:
                metadata[key] = value
        metadata.update(extra or {})
        if failure:
            context.log.warning(f"Gemini analysis unavailable, statistical one used: {failure}")
        else:
            context.log.info(
                f"Gemini {self.model} answered in {self.seconds:.1f} s "
                f"({plural(self.attempts, 'attempt')}, {self.prompt_tokens} prompt tokens, "
                f"{self.output_tokens} output tokens)"
            )
        context.add_output_metadata(metadata)


@dataclass
class GeminiCalls:
    """The generateContent requests of one analysis: one client, one model, one usage tally.

    ``redact`` removes the API key from a reason before it can reach a note or a log.
    """

    client: genai.Client = field(repr=False)
    usage: Usage
    max_attempts: int
    initial_delay: float
    max_delay: float
    timeout_seconds: float
    # Bound to the resource, whose repr may hold the key.
    redact: Callable[[str], str] = field(repr=False)

    def generate(
        self, contents: Any, config: types.GenerateContentConfig
    ) -> types.GenerateContentResponse:
        """One generateContent request with retries; :class:`GeminiUnavailableError` if it fails."""
        attempts = 0

        def count(state: tenacity.RetryCallState) -> None:
            nonlocal attempts
            attempts = state.attempt_number
            self.usage.attempts += 1

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            retry=tenacity.retry_if_exception(is_retryable),
            wait=self._wait,
            before=count,
            reraise=True,
        )
        started = time.monotonic()
        try:
            response = retrying(
                self.client.models.generate_content,
                model=self.usage.model,
                contents=contents,
                config=config,
            )
        except errors.APIError as err:
            raise GeminiUnavailableError(self._api_reason(err, attempts)) from err
        except TRANSPORT_ERRORS as err:
            raise GeminiUnavailableError(self._transport_reason(err, attempts)) from err
        except Exception as err:
            # The AI text is optional: whatever else the SDK raises (its surface is large and
            # changes between major versions), the exact report must still go out.
            raise GeminiUnavailableError(f"the Gemini SDK raised {type(err).__name__}") from err
        finally:
            self.usage.seconds += time.monotonic() - started
        self.usage.count_tokens(response)
        return response

    def _wait(self, state: tenacity.RetryCallState) -> float:
        # The jitter spreads the retries of reports that hit the quota in the same minute.
        delay = self.initial_delay * 2 ** (state.attempt_number - 1) * random.uniform(0.5, 1.0)
        error = state.outcome.exception() if state.outcome is not None else None
        requested = retry_info_seconds(error) if isinstance(error, errors.APIError) else None
        return min(max(delay, requested or 0.0), self.max_delay)

    def _api_reason(self, err: errors.APIError, attempts: int) -> str:
        answered = f"Gemini answered {err.code} {err.status or ''}".rstrip()
        if err.code in RETRYABLE_STATUS:
            return f"{answered} after {plural(attempts, 'attempt')}"
        message = clip(one_line(err.message or ""), MAX_REASON_CHARS)
        reason = f"{answered}: {message}" if message else answered
        if err.code in (401, 403) or (err.code == 400 and "api key" in message.lower()):
            reason += f"; check {API_KEY_ENV}"
        elif err.code == 404:
            reason += f"; check the model name ({QUICK_MODEL_ENV} / {DEEP_MODEL_ENV})"
        return self.redact(reason)

    def _transport_reason(self, err: BaseException, attempts: int) -> str:
        if isinstance(err, _TIMEOUT_ERRORS):
            return (
                f"Gemini did not answer within {self.timeout_seconds:g} s "
                f"({plural(attempts, 'attempt')})"
            )
        return f"could not reach Gemini ({type(err).__name__}) after {plural(attempts, 'attempt')}"


def is_retryable(err: BaseException) -> bool:
    """Whether another attempt could succeed: a transient status or a transport failure."""
    if isinstance(err, errors.APIError):
        return err.code in RETRYABLE_STATUS
    return isinstance(err, TRANSPORT_ERRORS)


def retry_info_seconds(err: errors.APIError) -> float | None:
    """The delay Gemini asks for in a RetryInfo detail (``"retryDelay": "37s"``), if any."""
    body = err.details if isinstance(err.details, dict) else {}
    details = body.get("error", {}).get("details") if isinstance(body.get("error"), dict) else None
    for item in details or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return (total or 0) + value
