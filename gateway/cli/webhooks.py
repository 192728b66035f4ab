"""`handoff webhook add|list|remove|deliveries`: outbound webhook subscriptions.

gateway/cli/__init__.py attaches the group. The rules are the admin API's
(gateway/admin/webhooks.py, whose checks it uses): an http(s) URL to a
public address (gateway/webhook_targets.py),
events from gateway.events.WEBHOOK_EVENTS or '*', and the signing
secret printed once, when it is generated.
"""

from __future__ import annotations

import click

from gateway.cli.support import database, plural
from gateway.config import Config
from gateway.store import webhooks
from gateway.admin.webhooks import EVENT_CHOICES, webhook_url_problem


@click.group()
def webhook() -> None:
    """Outbound webhooks: signed POSTs of conversation events to your URLs."""


def validate_url(ctx, param, value: str) -> str:
    problem = webhook_url_problem(value, Config.from_env().webhook_allowed_hosts)
    if problem:
        raise click.BadParameter(problem)
    return value


def subscription_or_error(conn, subscription_id: int) -> dict:
    subscription = webhooks.get_subscription(conn, subscription_id)
    if subscription is None:
        raise click.ClickException(f"no webhook {subscription_id} (see `handoff webhook list`)")
    return subscription


@webhook.command("add")
@click.argument("url", callback=validate_url)
@click.option("--event", "events", multiple=True, required=True, type=click.Choice(EVENT_CHOICES),
              help="An event to send (repeat for more; '*' for all of them).")
@click.option("--description", default="", help="What the receiver is, for whoever reads the list.")
def add_webhook(url: str, events: tuple[str, ...], description: str) -> None:
    """Send the events to URL, signed with a new secret."""
    with database() as conn:
        created = webhooks.create_subscription(conn, url=url, events=list(dict.fromkeys(events)),
                                               description=description.strip())
    click.echo(f"added webhook {created['id']} for {url}: {', '.join(created['events'])}")
    click.echo(f"  signing secret: {created['secret']}")
    click.echo("  Copy it now: it will not be shown again. Each POST carries X-Handoff-Signature-256:")
    click.echo("  sha256=<hex HMAC-SHA256 of the body with this secret>.")


@webhook.command("list")
def list_webhooks() -> None:
    """The webhooks, with their last delivery (never their secrets)."""
    with database() as conn:
        rows = webhooks.list_subscriptions(conn)
    if not rows:
        click.echo("no webhooks yet: add one with `handoff webhook add URL --event EVENT`")
        return
    table = [("ID", "ACTIVE", "EVENTS", "LAST DELIVERY", "URL")] + [
        (str(row["id"]), "yes" if row["active"] else "no", ",".join(row["events"]),
         describe_last(row["last_delivery"]), row["url"]) for row in rows]
    widths = [max(len(cells[i]) for cells in table) for i in range(4)]
    for index, cells in enumerate(table):
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells[:4])) + "  " + cells[4])
        if index and rows[index - 1]["description"]:
            click.echo(f"    {rows[index - 1]['description']}")


def describe_last(delivery: dict | None) -> str:
    if delivery is None:
        return "-"
    status = f" (HTTP {delivery['last_status']})" if delivery["last_status"] is not None else ""
    return f"{delivery['status']} {delivery['event']}{status}"


@webhook.command("remove")
@click.argument("subscription_id", metavar="ID", type=int)
def remove_webhook(subscription_id: int) -> None:
    """Remove webhook ID, with its record of deliveries."""
    with database() as conn:
        if not webhooks.delete_subscription(conn, subscription_id):
            raise click.ClickException(f"no webhook {subscription_id} (see `handoff webhook list`)")
    click.echo(f"removed webhook {subscription_id}")


@webhook.command("deliveries")
@click.argument("subscription_id", metavar="ID", type=int)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True,
              help="At most this many deliveries, newest first.")
def list_deliveries(subscription_id: int, limit: int) -> None:
    """The latest deliveries of webhook ID, each with its attempts."""
    with database() as conn:
        subscription = subscription_or_error(conn, subscription_id)
        deliveries = webhooks.recent_deliveries(conn, subscription_id, limit)
    if not deliveries:
        click.echo(f"no deliveries to webhook {subscription_id} ({subscription['url']}) yet")
        return
    for delivery in deliveries:
        click.echo(f"delivery {delivery['id']}  {delivery['event']}  {delivery['status']}  "
                   f"{plural(delivery['attempts'], 'attempt')}  created {delivery['created_at']:%Y-%m-%d %H:%M:%S}")
        if delivery["status"] == "retrying" and delivery["next_attempt_at"] is not None:
            click.echo(f"    next attempt {delivery['next_attempt_at']:%Y-%m-%d %H:%M:%S}")
        for attempt in delivery["attempt_log"]:
            # error: "HTTP 500 <start of the body>", or why nothing answered.
            outcome = attempt["error"] or f"HTTP {attempt['status']}"
            click.echo(f"    attempt {attempt['attempt']}  {attempt['created_at'][:19].replace('T', ' ')}  "
                       f"{attempt['duration_ms']} ms  {outcome}")
