"""The users of a ``tunetrack server --auth``, their API tokens and experiment grants, kept in
the tracking database (tables ``users``, ``api_tokens``, ``experiment_permissions``).

Passwords are stored as salted scrypt hashes and tokens as their sha256: neither can be read
back. :class:`UserStore` is what ``tunetrack users``/``tokens`` and the server use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, Delete, Engine, Update, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tunetrack._clock import now_ms
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.server.auth.credentials import hash_password, new_token, token_digest
from tunetrack.server.auth.roles import Permission, Role, User
from tunetrack.store.sql import models as m
from tunetrack.store.sql.engine import with_retry, write_transaction

_users, _tokens, _grants = m.users, m.api_tokens, m.experiment_permissions
TOKEN_ID_CHARS = 12  # a token's id: the start of its sha256
_T = TypeVar("_T")


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: its id (the start of its sha256), owner, label and creation time."""

    token_id: str
    user: str
    label: str
    created_time: int


def _grants_of(conn: Connection, name: str) -> dict[str, Permission]:
    rows = conn.execute(
        select(_grants.c.experiment_id, _grants.c.permission).where(_grants.c.user_name == name)
    )
    return {str(eid): Permission[perm] for eid, perm in rows}


def _user(conn: Connection, name: str, role: str) -> User:
    return User(name, Role(role), _grants_of(conn, name))


class UserStore:
    """Users, tokens and grants in the database behind ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _write(self, fn: Callable[[Connection], _T]) -> _T:
        def attempt() -> _T:
            with write_transaction(self._engine) as conn:
                return fn(conn)

        return with_retry(attempt)

    def _read(self, fn: Callable[[Connection], _T]) -> _T:
        def attempt() -> _T:
            with self._engine.connect() as conn:
                return fn(conn)

        return with_retry(attempt)

    # -- users ---------------------------------------------------------------------------
    def add_user(self, name: str, password: str, role: Role) -> None:
        """Create a user (409 when the name is taken)."""
        if not name or ":" in name or len(name) > 256:
            raise InvalidInput("a user name is 1 to 256 characters without ':'")
        if not password:
            raise InvalidInput("the password is empty")
        values = {
            "name": name,
            "password_hash": hash_password(password),
            "role": role.value,
            "created_time": now_ms(),
        }
        try:
            self._write(lambda conn: conn.execute(insert(_users).values(values)))
        except IntegrityError:
            raise Conflict(f"user {name!r} exists") from None

    def _changed(self, name: str, statement: Update | Delete) -> None:
        if self._write(lambda conn: conn.execute(statement).rowcount) == 0:
            raise NotFound(f"no user {name!r}")

    def set_role(self, name: str, role: Role) -> None:
        """Give a user another role."""
        self._changed(name, update(_users).where(_users.c.name == name).values(role=role.value))

    def delete_user(self, name: str) -> None:
        """Delete a user with their tokens and grants."""
        self._changed(name, delete(_users).where(_users.c.name == name))  # cascades

    def list_users(self) -> list[tuple[User, int]]:
        """Every user (with their grants) and when they were created, by name."""

        def read(conn: Connection) -> list[tuple[User, int]]:
            rows = conn.execute(select(_users).order_by(_users.c.name)).all()
            return [(_user(conn, r.name, r.role), r.created_time) for r in rows]

        return self._read(read)

    def grant(self, name: str, experiment_id: str, permission: Permission) -> None:
        """Give a user ``permission`` on one experiment (replacing an earlier grant)."""
        if permission not in (Permission.READ, Permission.EDIT, Permission.MANAGE):
            raise InvalidInput("a grant is READ, EDIT or MANAGE")

        def write(conn: Connection) -> None:
            if conn.execute(select(_users.c.name).where(_users.c.name == name)).first() is None:
                raise NotFound(f"no user {name!r}")
            eid = m.experiments.c.experiment_id
            if not experiment_id.isdigit() or (
                conn.execute(select(eid).where(eid == int(experiment_id))).first() is None
            ):
                raise NotFound(f"no experiment with id {experiment_id!r}")
            where = (_grants.c.user_name == name) & (_grants.c.experiment_id == int(experiment_id))
            conn.execute(delete(_grants).where(where))
            conn.execute(
                insert(_grants).values(
                    user_name=name, experiment_id=int(experiment_id), permission=permission.name
                )
            )

        self._write(write)

    # -- what the server asks --------------------------------------------------------------
    def password_user(self, name: str) -> tuple[User, str] | None:
        """A user and their stored password hash, or None when there is no such user."""

        def read(conn: Connection) -> tuple[User, str] | None:
            row = conn.execute(select(_users).where(_users.c.name == name)).first()
            return None if row is None else (_user(conn, row.name, row.role), row.password_hash)

        return self._read(read)

    def token_user(self, token: str) -> User | None:
        """The owner of an API token, or None when it is unknown or revoked."""

        def read(conn: Connection) -> User | None:
            row = conn.execute(
                select(_users.c.name, _users.c.role)
                .join(_tokens, _tokens.c.user_name == _users.c.name)
                .where(_tokens.c.token_sha256 == token_digest(token))
            ).first()
            return None if row is None else _user(conn, row.name, row.role)

        return self._read(read)

    # -- tokens --------------------------------------------------------------------------
    def create_token(self, user: str, label: str = "") -> str:
        """A new token for ``user``, returned once: only its sha256 is kept."""
        token = new_token()

        def write(conn: Connection) -> None:
            if conn.execute(select(_users.c.name).where(_users.c.name == user)).first() is None:
                raise NotFound(f"no user {user!r}")
            conn.execute(
                insert(_tokens).values(
                    token_sha256=token_digest(token),
                    user_name=user,
                    label=label,
                    created_time=now_ms(),
                )
            )

        self._write(write)
        return token

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Tokens (of ``user``, or everyone's), oldest first."""
        query = select(_tokens).order_by(_tokens.c.created_time)
        if user is not None:
            query = query.where(_tokens.c.user_name == user)
        rows = self._read(lambda conn: conn.execute(query).all())
        return [
            TokenInfo(r.token_sha256[:TOKEN_ID_CHARS], r.user_name, r.label, r.created_time)
            for r in rows
        ]

    def revoke_token(self, token_id: str) -> None:
        """Delete the token whose id (as listed) is ``token_id``."""
        if len(token_id) != TOKEN_ID_CHARS:
            raise InvalidInput(f"a token id is the {TOKEN_ID_CHARS} characters tokens list shows")
        prefix = func.substr(_tokens.c.token_sha256, 1, TOKEN_ID_CHARS)
        removed = self._write(
            lambda conn: conn.execute(delete(_tokens).where(prefix == token_id.lower())).rowcount
        )
        if removed == 0:
            raise NotFound(f"no token with id {token_id!r}")
