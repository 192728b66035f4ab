"""Can this team take a conversation live now, and how long would a customer wait?

One answer for every place that asks: escalation (queue or ticket), the
humans-first check of offline_or_missed channels, a transfer, the admins'
team overview and the customer's place in line. A team is available when
its business hours are open and at least one of its agents is online; the
wait is the team's recent median time from escalation to a first human
reply, for each round of conversations ahead of the customer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from gateway.handoff.hours import BusinessHours, team_hours
from gateway.store import assignment

# Before a team has answered enough conversations to measure it.
DEFAULT_WAIT_SECONDS = 180
MIN_WAIT_SAMPLES = 3

CLOSED = "closed"
NOBODY_ONLINE = "nobody_online"


@dataclass(frozen=True)
class Availability:
    hours: BusinessHours
    open_now: bool                    # by the team's business hours
    online: int                       # agents of the team online now
    median_reply_seconds: float | None = None  # escalation -> first human reply, recently
    samples: int = 0                  # how many replies that median is of

    @property
    def live(self) -> bool:
        """A person can take the conversation now."""
        return self.open_now and self.online > 0

    @property
    def why_not(self) -> str | None:
        """closed | nobody_online, or None when live."""
        if not self.open_now:
            return CLOSED
        return None if self.online else NOBODY_ONLINE

    def wait_minutes(self, position: int) -> int:
        """Whole minutes until a person answers the conversation at `position`
        in line: the median for each round of conversations ahead (as many
        served at once as agents are online). At least one minute: a promise
        of "0 minutes" is one that is broken."""
        return estimate_wait_minutes(position, self.online, self.median_reply_seconds, self.samples)


def estimate_wait_minutes(position: int, agents_online: int, median_seconds: float | None, samples: int) -> int:
    per_round = median_seconds if samples >= MIN_WAIT_SAMPLES and median_seconds else DEFAULT_WAIT_SECONDS
    rounds = math.ceil(max(position, 1) / max(agents_online, 1))
    return max(1, math.ceil(per_round * rounds / 60))


def availability(hours: BusinessHours, online: int, now: datetime, **wait) -> Availability:
    """The answer from what the caller already knows (hours and agents online)."""
    return Availability(hours=hours, open_now=hours.is_open(now), online=online, **wait)


def team_availability(conn, team: dict | None, now: datetime) -> Availability:
    """The team's availability now; no team is open but has nobody online."""
    if team is None:
        return availability(team_hours(None), 0, now)
    stats = assignment.team_wait_stats(conn, team["id"])
    return availability(team_hours(team), assignment.team_availability(conn, team["id"])["online"], now,
                        median_reply_seconds=stats["median_seconds"], samples=stats["samples"])


def queue_status(conn, conversation: dict, team: dict | None, now: datetime) -> tuple[int, int]:
    """(place in line, estimated minutes) of a waiting conversation."""
    position = assignment.queue_position(conn, conversation["id"])
    return position, team_availability(conn, team, now).wait_minutes(position)
