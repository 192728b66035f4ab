"""`handoff kb`: the knowledge base the built-in bot answers from."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.support import database, plural


@click.group()
def kb() -> None:
    """Manage the knowledge base the built-in bot answers from."""


@kb.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, readable=True, path_type=Path))
def kb_import(files: tuple[Path, ...]) -> None:
    """Import articles from markdown or text FILES (a directory: its .md and .txt files).

    A markdown file with # or ## headings gives one article per heading;
    any other file is one article. Importing the same files again updates
    their articles instead of adding copies.
    """
    from gateway.bot.articles import (
        UnreadableFile,
        expand_paths,
        read_articles,
        save_articles,
    )

    paths = expand_paths(list(files))
    if not paths:
        raise click.ClickException("no .md or .txt files found in " + ", ".join(str(f) for f in files))
    drafts_by_file = []
    for path in paths:
        try:
            drafts_by_file.append((path, read_articles(path)))
        except UnreadableFile as error:
            raise click.ClickException(str(error)) from None
    created = updated = 0
    with database() as conn:
        for path, drafts in drafts_by_file:
            if not drafts:
                click.echo(f"{path}: empty, skipped")
                continue
            new, changed = save_articles(conn, drafts)
            created, updated = created + new, updated + changed
            click.echo(f"{path}: {plural(len(drafts), 'article')}")
    click.echo(f"imported {created} new, updated {updated}")
