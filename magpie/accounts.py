"""Web UI accounts: who may sign up, how passwords are kept, and sessions.

A session is a random token the browser holds in a signed, HttpOnly,
SameSite cookie; the store keeps only its SHA-256 digest, so logging out
(deleting the row) ends it everywhere. The CSRF token is derived from the
session token with the server's secret: it needs no storage, changes with
every session, and cannot be computed by a page that cannot read the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from magpie.clock import Clock
from magpie.errors import InvalidInput, NotAuthenticated, PermissionDenied
from magpie.store.base import SessionStore, UserStore
from magpie.store.model import Session, User
from magpie.store.secrets import key_digest

SESSION_LIFETIME = timedelta(days=14)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte of "password" is an attack
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_HASHER = PasswordHasher()  # argon2id with the library's current parameters
# Checked when an email is unknown, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def valid_email(email: str) -> str:
    email = email.strip()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise InvalidInput("enter an email address, such as ada@example.com", attr="email")
    return email


def valid_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"the password needs at least {MIN_PASSWORD} characters", attr="password"
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(
            f"the password may have at most {MAX_PASSWORD} characters", attr="password"
        )
    return password


def add_user(users: UserStore, email: str, password: str) -> User:
    """A new user (by the CLI, the API, or a logged-in user)."""
    email, password = valid_email(email), valid_password(password)
    try:
        return users.create(email, hash_password(password))
    except ValueError:
        raise InvalidInput("a user with this email exists already", attr="email") from None


def sign_up(users: UserStore, email: str, password: str) -> User:
    """The first user only: later ones are added by someone who is logged in."""
    if users.count() > 0:
        raise PermissionDenied("this Magpie has users already: log in, or ask one to add you")
    return add_user(users, email, password)


def check_password(users: UserStore, email: str, password: str) -> User:
    """The user with this email and password; one message for either being wrong."""
    user = users.by_email(email) if len(email) <= MAX_EMAIL else None
    stored = users.password_hash(user.id) if user is not None else None
    try:
        _HASHER.verify(stored or _DUMMY_HASH, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        stored = None
    if user is None or stored is None:
        raise NotAuthenticated("wrong email or password")
    if _HASHER.check_needs_rehash(stored):
        users.set_password_hash(user.id, hash_password(password))
    return user


@dataclass(frozen=True)
class LoggedIn:
    session: Session
    token: str  # the cookie's session token: only the browser and this object hold it

    @property
    def user(self) -> User:
        return self.session.user


class SessionAuthority:
    """Makes, signs, finds and ends sessions."""

    def __init__(self, sessions: SessionStore, clock: Clock, secret: bytes) -> None:
        self._sessions = sessions
        self._clock = clock
        self._secret = secret

    def start(self, user: User) -> tuple[LoggedIn, str]:
        """A new session and the cookie value that carries it."""
        token = secrets.token_urlsafe(32)
        expires = self._clock.now() + SESSION_LIFETIME
        session = self._sessions.create(_digest(token), user.id, expires)
        return LoggedIn(session, token), f"{token}.{self._sign('session', token)}"

    def find(self, cookie: str | None) -> LoggedIn | None:
        """The session a cookie carries, if its signature holds and it is still open."""
        token, _, signature = (cookie or "").partition(".")
        if not token or not hmac.compare_digest(signature, self._sign("session", token)):
            return None  # forged or damaged: no need to ask the store
        session = self._sessions.find(_digest(token), self._clock.now())
        return LoggedIn(session, token) if session is not None else None

    def end(self, logged_in: LoggedIn) -> None:
        self._sessions.delete(_digest(logged_in.token))

    def csrf_token(self, logged_in: LoggedIn) -> str:
        return self._sign("csrf", logged_in.token)

    def csrf_ok(self, logged_in: LoggedIn, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(str(sent), self.csrf_token(logged_in))

    def _sign(self, purpose: str, token: str) -> str:
        mac = hmac.new(self._secret, f"{purpose}:{token}".encode(), hashlib.sha256)
        return mac.hexdigest()


def _digest(token: str) -> str:
    return key_digest(token)  # stored, like an API key's, only as its digest


def load_secret(path: Path) -> bytes:
    """The server's signing secret, made at first start and kept in the data folder
    (readable by the server's user only), so sessions survive a restart."""
    try:
        existing = path.read_bytes().strip()
    except FileNotFoundError:
        existing = b""
    if len(existing) >= 32:
        return existing
    secret = secrets.token_hex(32).encode()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(secret)
    tmp.chmod(0o600)
    tmp.replace(path)
    return secret
