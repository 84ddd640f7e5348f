"""``rubricate db``: the database's schema revision, and upgrading it to this rubricate's.

Start-up makes an empty database itself; one made by an older rubricate is upgraded here
(back it up first), or at start-up with ``RUBRICATE_DB_UPGRADE=true``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.batches import database_url
from app.settings import Settings
from graders.core.errors import RubricateError
from graders.store.database import connect, sqlite_url
from graders.store.schema import current, head, prepare, where

db_cli = typer.Typer(help="The database's schema: revision, upgrade.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option(
        help="SQLAlchemy URL (default: RUBRICATE_DATABASE_URL, else cache_dir/rubricate.db; "
        "and RUBRICATE_LTI_DB_PATH's file when set)."
    ),
]


def _urls(url: str | None) -> list[str]:
    if url is not None:
        return [url]
    settings = Settings()
    urls = [database_url(settings)]
    if settings.lti_db_path is not None:
        urls.append(sqlite_url(settings.lti_db_path))
    return urls


@db_cli.command("upgrade")
def upgrade_command(url: UrlOption = None) -> None:
    """Upgrade the database to this rubricate's schema (made if empty). A database made
    before migrations is taken as revision 1."""
    for target in _urls(url):
        engine = connect(target)
        try:
            found, now = prepare(engine, upgrade=True)
        except (RubricateError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        finally:
            engine.dispose()
        done = "already at" if str(found) == now else f"upgraded from {found} to"
        typer.echo(f"{where(engine)}: {done} revision {now}")


@db_cli.command("current")
def current_command(url: UrlOption = None) -> None:
    """Show the database's schema revision and this rubricate's (head)."""
    for target in _urls(url):
        engine = connect(target)
        try:
            found = current(engine)
        finally:
            engine.dispose()
        typer.echo(f"{where(engine)}: revision {found} (this rubricate's: {head()})")
