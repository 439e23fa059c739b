"""Bearer tokens for the REST API: HS256 JWTs signed with REPORT_PIPELINES_JWT_SECRET.

The ``sub`` claim is the user id that owns reports; ``exp`` is required and enforced. Minting and
checking are plain logic (``report-pipelines token`` mints with them too); :func:`current_user`
is the FastAPI security dependency every ``/api`` route depends on.
"""

from __future__ import annotations

import datetime as dt
import os

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


def mint_token(user_id: str, *, secret: str, lifetime: dt.timedelta = DEFAULT_LIFETIME,
               now: dt.datetime | None = None) -> str:
    if not user_id.strip():
        raise ValueError("the user id must not be empty")
    issued = now or dt.datetime.now(dt.timezone.utc)
    claims = {"sub": user_id.strip(), "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def user_from_token(token: str, *, secret: str) -> str:
    """The ``sub`` of a valid token; :class:`InvalidToken` for anything else."""
    try:
        # The algorithm list is fixed: a token may not choose "none" or an asymmetric algorithm.
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError as err:
        raise InvalidToken from err
    user = claims.get("sub")
    if not isinstance(user, str) or not user.strip():
        raise InvalidToken
    return user


# auto_error=False: a missing header gets the same answer as a bad token, from current_user.
bearer = HTTPBearer(auto_error=False, description="A JWT from `report-pipelines token --user ID`.")


def current_user(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
    """The token's user; one 401 for a missing, malformed, forged or expired token (the
    difference would only help someone probing)."""
    try:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise InvalidToken
        return user_from_token(credentials.credentials.strip(), secret=request.app.state.jwt_secret)
    except InvalidToken:
        raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"}) from None
