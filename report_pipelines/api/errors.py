"""Answers other than success that a route raises itself."""

from __future__ import annotations


class ApiError(Exception):
    """An answer other than success, with its status code and a detail that says what to do."""

    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers


class Unprocessable(Exception):
    """A request that parsed but says something we cannot do; ``loc`` names the field."""

    def __init__(self, problems: list[tuple[tuple, str]]):
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def problems_body(problems: list[tuple[tuple, str]]) -> dict:
    """FastAPI's 422 shape, one entry per problem, in our words."""
    return {
        "detail": [
            {"loc": [part if isinstance(part, int) else str(part) for part in loc], "msg": msg, "type": "invalid"}
            for loc, msg in problems
        ]
    }
