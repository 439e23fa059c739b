"""Bearer tokens for the REST API: HS256 JWTs signed with REPORT_PIPELINES_JWT_SECRET.

The ``sub`` claim is the user id that owns reports; ``exp`` is required and enforced; ``role``
is ``admin`` or ``user`` (the default when absent). Minting and checking are plain logic
(``report-pipelines token`` mints with them too); :func:`current_principal` is the FastAPI
security dependency every ``/api`` route depends on, :func:`current_user` its user id and
:func:`require_admin` the guard of admin-only routes.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ALGORITHM = "HS256"
# RFC 7518 asks for an HMAC key at least as long as the hash: 256 bits for HS256.
MIN_SECRET_BYTES = 32
SECRET_ENV = "REPORT_PIPELINES_JWT_SECRET"
DEFAULT_LIFETIME = dt.timedelta(hours=24)


class AuthConfigError(RuntimeError):
    """REPORT_PIPELINES_JWT_SECRET is missing or too short; the message says how to set it."""


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or names no user.

    Callers answer 401 without saying which: the reason would only help someone guessing."""


def jwt_secret() -> str:
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise AuthConfigError(
            f"{SECRET_ENV} is not set; create one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` and export it "
            "wherever `report-pipelines api` and `report-pipelines token` run"
        )
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise AuthConfigError(
            f"{SECRET_ENV} is {len(secret.encode())} bytes; HS256 needs at least {MIN_SECRET_BYTES}: "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` makes one"
        )
    return secret


ADMIN = "admin"
USER = "user"
ROLES = (ADMIN, USER)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's user id and role."""

    user: str
    role: str = USER

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def owner(self) -> str | None:
        """The owner filter of the service: None (every report) for an admin, else the user."""
        return None if self.is_admin else self.user


def mint_token(user_id: str, *, secret: str, lifetime: dt.timedelta = DEFAULT_LIFETIME,
               now: dt.datetime | None = None, role: str = USER) -> str:
    if not user_id.strip():
        raise ValueError("the user id must not be empty")
    if role not in ROLES:
        raise ValueError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
    issued = now or dt.datetime.now(dt.timezone.utc)
    claims = {"sub": user_id.strip(), "role": role, "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def principal_from_token(token: str, *, secret: str) -> Principal:
    """The user and role of a valid token; :class:`InvalidToken` for anything else (a role
    that is neither admin nor user included)."""
    try:
        # The algorithm list is fixed: a token may not choose "none" or an asymmetric algorithm.
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError as err:
        raise InvalidToken from err
    user = claims.get("sub")
    if not isinstance(user, str) or not user.strip():
        raise InvalidToken
    role = claims.get("role", USER)
    if role not in ROLES:
        raise InvalidToken
    return Principal(user, role)


# auto_error=False: a missing header gets the same answer as a bad token, from current_user.
bearer = HTTPBearer(auto_error=False, description="A JWT from `report-pipelines token --user ID`.")


def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    """The token's user and role; one 401 for a missing, malformed, forged or expired token (the
    difference would only help someone probing)."""
    try:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise InvalidToken
        return principal_from_token(credentials.credentials.strip(), secret=request.app.state.jwt_secret)
    except InvalidToken:
        raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"}) from None


def current_user(principal: Principal = Depends(current_principal)) -> str:
    return principal.user


def require_admin(principal: Principal = Depends(current_principal)) -> Principal:
    """403 for anyone but an admin: workspaces and the deployment's health are theirs."""
    if not principal.is_admin:
        raise HTTPException(403, "only an admin may do this (a token minted with --role admin)")
    return principal
