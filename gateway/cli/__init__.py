"""The `handoff` command (entry point gateway.cli:main), one module per group:
run, worker, migrate, channel, agent, kb, team, webhook, triggers, settings, report (and bench).

Every command except `run` reads its configuration from the environment
(DATABASE_URL, REDIS_URL, PUBLIC_URL, ...: see .env.example), like the web
process does. A user's mistake (a bad argument, a missing variable, a
duplicate) ends in a one-line error and a non-zero exit, never a traceback.
Secrets are never printed, except a password or token the user must copy,
once, when it is generated.
"""

from __future__ import annotations

import click
import psycopg

from bench.cli import bench
from gateway.cli.agents import agent
from gateway.cli.channels import channel
from gateway.cli.kb import kb
from gateway.cli.reports import report
from gateway.cli.run import run
from gateway.cli.support import load_config, one_line, plural, require_database_url
from gateway.cli.teams import team
from gateway.cli.triggers import settings, triggers
from gateway.cli.webhooks import webhook
from gateway.cli.worker import worker

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="handoff-gateway", prog_name="handoff")
def main() -> None:
    """Handoff: AI customer support on WhatsApp, Messenger and the web, with human handoff.

    Start everything on this machine with `handoff run`. In production, run the
    web process (gunicorn), `handoff worker` and `handoff migrate` as the
    Procfile says, with DATABASE_URL and REDIS_URL set.
    """


# --- migrate ---------------------------------------------------------------------------------


@main.command()
def migrate() -> None:
    """Apply pending database migrations (needs DATABASE_URL)."""
    from gateway.migrate import apply_migrations

    url = require_database_url(load_config())
    try:
        applied = apply_migrations(url, report=click.echo)
    except psycopg.OperationalError as error:
        raise click.ClickException(f"cannot connect to the database: {one_line(error)}") from None
    except (psycopg.Error, RuntimeError) as error:
        raise click.ClickException(f"migration failed: {one_line(error)}") from None
    click.echo(f"applied {plural(len(applied), 'migration')}" if applied else "database is up to date")


for command in (worker, channel, agent, kb, team, webhook, triggers, settings, report, run, bench):
    main.add_command(command)
