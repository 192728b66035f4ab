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


@kb.command("list")
@click.option("--search", default="", help="Only articles whose title or text has all these words.")
def kb_list(search: str) -> None:
    """The articles: id, title, where each came from (demo articles are marked)."""
    from gateway.store.kb import count_articles, search_articles

    with database() as conn:
        rows = search_articles(conn, search, limit=10_000)
        counts = count_articles(conn)
    for row in rows:
        click.echo(f"{row['id']:>5}  {row['title']}  ({'demo' if row['demo'] else row['source']})")
    click.echo(f"{plural(len(rows), 'article')} shown of {counts['total']} ({counts['demo']} from the demo)")


@kb.command("show")
@click.argument("article_id", type=int)
def kb_show(article_id: int) -> None:
    """One article, whole."""
    from gateway.store.kb import get_article

    with database() as conn:
        row = get_article(conn, article_id)
    if row is None:
        raise click.ClickException(f"no article {article_id}: see `handoff kb list`")
    click.echo(f"# {row['title']}\n\n{row['body']}\n\n(source: {row['source']})")


@kb.command("remove")
@click.argument("article_ids", type=int, nargs=-1, required=True)
def kb_remove(article_ids: tuple[int, ...]) -> None:
    """Delete these articles."""
    from gateway.store.kb import delete_articles

    with database() as conn:
        removed = delete_articles(conn, list(article_ids))
    if not removed:
        raise click.ClickException("no such article: see `handoff kb list`")
    click.echo(f"removed {plural(removed, 'article')}")


@kb.command("clear")
@click.option("--demo", is_flag=True, help="Only the demo's sample articles (the ones `handoff run` seeded).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def kb_clear(demo: bool, yes: bool) -> None:
    """Delete every article (with --demo: the demo's only)."""
    from gateway.store.kb import delete_all_articles

    if not yes:
        click.confirm("Delete the demo's sample articles?" if demo else "Delete every article?", abort=True)
    with database() as conn:
        removed = delete_all_articles(conn, demo_only=demo)
    click.echo(f"removed {plural(removed, 'demo article' if demo else 'article')}")
