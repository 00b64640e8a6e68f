"""``tunetrack users`` and ``tunetrack tokens``: who may use a ``tunetrack server --auth``.

They act on the tracking database directly (like ``db upgrade``), so the first admin is made
here: ``tunetrack users add NAME --role admin``. No user or password exists by default.
"""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from tunetrack.cli._common import Column, JsonOption, friendly, print_json, print_records, when
from tunetrack.server.auth.roles import Permission, Role

if TYPE_CHECKING:
    from tunetrack.store.sql.users import UserStore

users_app = typer.Typer(
    help="Users of a tunetrack server --auth: roles and experiment grants.", no_args_is_help=True
)
tokens_app = typer.Typer(help="API tokens for scripts (sent as Bearer).", no_args_is_help=True)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--backend-store-uri",
        "--tracking-uri",
        envvar="TUNETRACK_TRACKING_URI",
        help="The server's database: sqlite:///path.db or postgresql://user@host/db "
        "(default: sqlite:///tunetrack.db).",
        show_default=False,
    ),
]
RoleArg = Annotated[
    Role,
    typer.Option(
        help="viewer reads every experiment, editor also logs to them, admin may do anything; "
        "none has only what grants give.",
    ),
]


class Grant(enum.StrEnum):
    """A permission on one experiment, as the command line spells it."""

    READ = "READ"
    EDIT = "EDIT"
    MANAGE = "MANAGE"


def _users(uri: str | None) -> UserStore:
    """The UserStore of ``uri`` (a SQL store; its schema created or checked)."""
    from tunetrack.errors import InvalidInput
    from tunetrack.store.sql.store import SqlStore
    from tunetrack.store.sql.users import UserStore
    from tunetrack.store.tracking_uri import normalize_uri, resolve_tracking_uri

    uri = normalize_uri(resolve_tracking_uri(uri))
    if not uri.startswith(("sqlite:", "postgresql")):
        raise InvalidInput(f"users live in a SQLite or PostgreSQL store, not {uri!r}")
    return UserStore(SqlStore(uri).engine)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
@friendly
def users_add(
    name: str,
    role: RoleArg = Role.VIEWER,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    backend_store_uri: StoreOption = None,
) -> None:
    """Add a user with a password (asked for, or read from stdin)."""
    users = _users(backend_store_uri)
    users.add_user(name, _read_password(password_stdin), role)
    typer.echo(f"user {name} added ({role.value})")


def _grants_text(grants: dict[str, str]) -> str:
    return ", ".join(f"{eid}:{perm}" for eid, perm in grants.items())


@users_app.command("list")
@friendly
def users_list(backend_store_uri: StoreOption = None, as_json: JsonOption = False) -> None:
    """Every user with their role and experiment grants."""
    records = [
        {
            "name": user.name,
            "role": user.role.value,
            "grants": {eid: perm.name for eid, perm in sorted(user.grants.items())},
            "created_time": created,
        }
        for user, created in _users(backend_store_uri).list_users()
    ]
    if as_json:
        print_json(records)
        return
    columns = (
        Column("name"),
        Column("role"),
        Column("grants", _grants_text),
        Column("created_time", when),
    )
    print_records("users", columns, records)


@users_app.command("set-role")
@friendly
def users_set_role(
    name: str,
    role: Role,
    backend_store_uri: StoreOption = None,
) -> None:
    """Give a user another role."""
    _users(backend_store_uri).set_role(name, role)
    typer.echo(f"user {name} is now {role.value}")


@users_app.command("delete")
@friendly
def users_delete(name: str, backend_store_uri: StoreOption = None) -> None:
    """Delete a user with their tokens and grants."""
    _users(backend_store_uri).delete_user(name)
    typer.echo(f"user {name} deleted")


@users_app.command("grant")
@friendly
def users_grant(
    name: str,
    experiment_id: str,
    permission: Grant,
    backend_store_uri: StoreOption = None,
) -> None:
    """Give a user READ, EDIT or MANAGE on one experiment, in place of their role's."""
    _users(backend_store_uri).grant(name, experiment_id, Permission[permission.value])
    typer.echo(f"user {name} has {permission.value} on experiment {experiment_id}")


@tokens_app.command("create")
@friendly
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="Whose token it is.")],
    name: Annotated[str, typer.Option("--name", help="A label to recognise it by.")] = "",
    backend_store_uri: StoreOption = None,
) -> None:
    """Create an API token and print it (only once: the store keeps its sha256)."""
    typer.echo(_users(backend_store_uri).create_token(user, name))


@tokens_app.command("list")
@friendly
def tokens_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's.")] = None,
    backend_store_uri: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Tokens by id (what revoke takes), user, label and creation time."""
    records = [vars(t) for t in _users(backend_store_uri).list_tokens(user)]
    if as_json:
        print_json(records)
        return
    columns = (Column("token_id"), Column("user"), Column("label"), Column("created_time", when))
    print_records("tokens", columns, records)


@tokens_app.command("revoke")
@friendly
def tokens_revoke(token_id: str, backend_store_uri: StoreOption = None) -> None:
    """Revoke the token with this id (as tokens list shows): it stops working at once."""
    _users(backend_store_uri).revoke_token(token_id)
    typer.echo(f"token {token_id} revoked")
