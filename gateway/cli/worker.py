"""`handoff worker`: an RQ worker with the scheduler and the sweeper clock."""

from __future__ import annotations

import logging
import signal
import threading
import time

import click
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.cli.support import database, load_config, one_line
from gateway.config import ConfigError
from gateway.logs import configure_logging
from gateway.queues import QUEUES


log = logging.getLogger(__name__)


def exit_quietly(signum, frame) -> None:
    raise SystemExit(0)


def wait_for_redis(redis: Redis) -> None:
    """Until Redis answers again (a stop request exits meanwhile)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, exit_quietly)
    while True:
        try:
            redis.ping()
            return
        except RedisError:
            time.sleep(1)


def parse_queues(ctx, param, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("name at least one queue")
    for name in names:
        if name not in QUEUES:
            raise click.BadParameter(f"unknown queue {name!r}: choose from {', '.join(QUEUES)}")
    return names


@click.command()
@click.option("--burst", is_flag=True, help="Run the jobs already queued, then exit.")
@click.option("--queues", default=",".join(QUEUES), show_default=True, callback=parse_queues,
              help="Comma-separated queues to work on, highest priority first.")
def worker(burst: bool, queues: list[str]) -> None:
    """Run an RQ worker (with the scheduler and the sweeper clock).

    It forks a work-horse per job. SIGTERM or Ctrl-C: finish the current job,
    then exit; a second one stops at once.
    """
    from gateway.queues import ForkingWorker, queue
    from workers import context, schedule
    from workers.warmup import warm_up

    config = load_config()
    try:
        config.require_services()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    redis = Redis.from_url(config.redis_url, socket_connect_timeout=5)
    try:
        redis.ping()
    except RedisError as error:
        raise click.ClickException(f"cannot connect to Redis: {one_line(error)}") from None
    with database(config) as conn:
        conn.execute("SELECT 1 FROM schema_migrations LIMIT 1")

    configure_logging()
    context.configure(config)
    try:
        # Before RQ forks a work-horse per job, so that no job pays for it;
        # a missing API key stops the start.
        with database(config) as conn:
            warm_up(conn, config)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    stop_clock = threading.Event()
    clock = None
    if not burst:  # a burst worker exits as soon as the queues are empty
        clock = threading.Thread(target=schedule.run_sweeper_clock, args=(Redis.from_url(config.redis_url), stop_clock),
                                 name="sweeper clock", daemon=True)
        clock.start()
    try:
        while True:
            # Until RQ installs its own handlers (once it has registered), a
            # stop request simply exits: no job has started yet.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, exit_quietly)
            rq_worker = ForkingWorker([queue(redis, name) for name in queues], connection=redis)
            try:
                rq_worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
                break
            except RedisConnectionError as error:
                # Redis went away (a restart, a failover). PostgreSQL holds every
                # message and the sweeper re-enqueues what Redis lost: wait for
                # it, then work again, rather than exit (`handoff run` would stop).
                log.warning("Redis unavailable (%s); working again once it is back", one_line(error))
                wait_for_redis(redis)
    finally:
        stop_clock.set()
        if clock is not None:
            clock.join(timeout=5)
        context.current().close()
