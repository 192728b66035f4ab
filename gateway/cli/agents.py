"""`handoff agent`: add agents, set passwords, disable agents, issue API tokens (and,
through gateway/cli/teams.py, presence and capacity)."""

from __future__ import annotations

import re
import sys

import click

from gateway.cli.support import database, load_config, not_blank, plural
from gateway.cli.teams import agent_capacity, agent_status

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@click.group()
def agent() -> None:
    """Manage the people who answer in the inbox."""


def validate_email(ctx, param, value: str) -> str:
    value = value.strip()
    if not EMAIL.match(value):
        raise click.BadParameter(f"{value!r} is not an email address")
    return value


def read_password(from_stdin: bool) -> str:
    from gateway.store.agents import MIN_PASSWORD_LENGTH

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("--password-stdin: no password on standard input (one line expected)")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


@agent.command("add")
@click.option("--email", required=True, callback=validate_email, help="Their login.")
@click.option("--name", required=True, callback=not_blank, help="The name customers and colleagues see.")
@click.option("--admin", is_flag=True, help="May configure channels, the bot, teams and agents.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def add_agent(email: str, name: str, admin: bool, password_stdin: bool) -> None:
    """Add an agent (asks for the password, hidden, twice)."""
    from gateway.store import agents

    config = load_config()
    with database(config) as conn:
        if agents.agent_id_by_email(conn, email) is not None:
            raise click.ClickException(f"an agent with email {email} already exists")
    password = read_password(password_stdin)
    with database(config) as conn:
        try:
            row = agents.create_agent(conn, email=email, name=name, password=password, is_admin=admin)
        except agents.AgentExists as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"added agent {row['id']}: {row['name']} <{row['email']}>{' (admin)' if row['is_admin'] else ''}")
    click.echo(f"They sign in at {config.public_url}/login")


@agent.command("password")
@click.option("--email", required=True, callback=validate_email, help="The agent's login.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of standard input.")
def agent_password(email: str, password_stdin: bool) -> None:
    """Set a new password for an agent (e.g. the demo admin); their sessions and API token end."""
    from gateway.store import agents, sessions

    config = load_config()
    with database(config) as conn:
        agent_id = agents.agent_id_by_email(conn, email)
    if agent_id is None:
        raise click.ClickException(f"no agent has the email {email}")
    password = read_password(password_stdin)
    with database(config) as conn:
        agents.set_password(conn, agent_id, password)
        ended = sessions.end_credentials(conn, agent_id)
    click.echo(f"password changed for {email}; {plural(ended, 'session')} ended and the API token revoked")


@agent.command("token")
@click.option("--email", required=True, callback=validate_email, help="The agent's login.")
def agent_token(email: str) -> None:
    """Issue a personal API token for the agent and admin APIs (replaces the previous one)."""
    from gateway.store import agents

    config = load_config()
    with database(config) as conn:
        agent_id = agents.agent_id_by_email(conn, email)
        if agent_id is None:
            raise click.ClickException(f"no agent has the email {email}")
        token = agents.issue_api_token(conn, agent_id)
    click.echo(token)
    click.echo(f"the API token of {email} (send it as 'Authorization: Bearer <token>'); it is shown only this once "
               "and the previous one no longer works", err=True)


@agent.command("deactivate")
@click.option("--email", required=True, callback=validate_email, help="The agent's login.")
def agent_deactivate(email: str) -> None:
    """The agent can no longer log in: their open sessions and API token stop working at their next
    request, and the conversations they held go back to their team's queue."""
    from gateway.admin.people import deactivate_agent
    from gateway.store import agents

    with database(load_config()) as conn:
        agent_id = agents.agent_id_by_email(conn, email)
        if agent_id is None or agents.get_agent(conn, agent_id) is None:
            raise click.ClickException(f"no active agent has the email {email}")
        result = deactivate_agent(conn, agent_id, agent_id=None)
    returned = result["returned"]
    click.echo(f"deactivated {email}" + (f"; {len(returned)} conversation(s) back in the queue" if returned else ""))


@agent.command("reactivate")
@click.option("--email", required=True, callback=validate_email, help="The agent's login.")
def agent_reactivate(email: str) -> None:
    """Let a deactivated agent log in again (set a new password with `handoff agent password`)."""
    from gateway.admin.people import reactivate_agent
    from gateway.errors import ApiError

    with database(load_config()) as conn:
        try:
            reactivate_agent(conn, email, agent_id=None)
        except ApiError as refusal:
            raise click.ClickException(refusal.message) from None
    click.echo(f"reactivated {email}")


agent.add_command(agent_status)
agent.add_command(agent_capacity)
