"""The ``keys`` command group: make, list and revoke the service's API keys (:mod:`omnimaint.service.auth`).

The commands work on the store directly, so they need no running service; a revoked key is refused by
a running service within its key cache's TTL (a few seconds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from omnimaint.cli.output import console, err_console, print_table, reports_errors

if TYPE_CHECKING:
    from sqlalchemy import Engine

keys_app = typer.Typer(
    name="keys",
    help="Make, list and revoke the monitoring service's API keys.",
    no_args_is_help=True,
)

# No default shown here: the service's settings own it, and importing them would slow every command's start.
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLAlchemy URL of the service's store; default: the SQLite store in the service's default data folder.",
        show_default=False,
    ),
]


@keys_app.command()
@reports_errors
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key, e.g. 'line-3 gateway'.")],
    role: Annotated[
        str, typer.Option("--role", help="viewer, operator or admin; each may do all that the ones before it may.")
    ],
    db: DbOption = None,
) -> None:
    """Make a key and print it on the last line: it is shown this once, the store keeps only its hash."""
    from omnimaint.service.auth import Role, create_key

    parsed_role = Role.parse(role)  # before the store is opened or made
    key = create_key(_open(db), name, parsed_role)
    err_console.print(
        Text.assemble(
            ("warning:", "bold yellow"),
            f" the {parsed_role.value} key for {name.strip()!r} is shown once, below; store it now,"
            " it cannot be shown again",
        ),
        highlight=False,
    )
    console.print(key, highlight=False)


@keys_app.command("list")
@reports_errors
def list_(db: DbOption = None) -> None:
    """Show every key: id, name, role, when it was made and when revoked (never a secret)."""
    from omnimaint.service.auth import list_keys

    keys = list_keys(_open(db))
    if not keys:
        console.print("no API keys (make one with 'omnimaint keys create')")
        return
    table = Table("key id", "name", "role", "created (UTC)", "revoked (UTC)")
    for key in keys:
        revoked = f"{key.revoked_at:%Y-%m-%d %H:%M:%S}" if key.revoked_at is not None else "-"
        table.add_row(Text(key.key_id), Text(key.name), key.role.value, f"{key.created_at:%Y-%m-%d %H:%M:%S}", revoked)
    print_table(table)


@keys_app.command()
@reports_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, as 'omnimaint keys list' shows it.", show_default=False)],
    db: DbOption = None,
) -> None:
    """Revoke a key for good; a running service refuses it within a few seconds."""
    from omnimaint.service.auth import revoke_key

    info = revoke_key(_open(db), key_id)
    console.print(Text.assemble(("revoked", "green"), f" key {info.key_id} ({info.name}, {info.role.value})"))


def _open(db: str | None) -> Engine:
    from omnimaint.service.db import open_store
    from omnimaint.service.settings import default_db_url

    return open_store(db if db is not None else default_db_url())
