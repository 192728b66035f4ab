-- Escalation: routing to teams, presence, the queue, missed chats, tickets,
-- outbound webhooks.

-- How a team takes conversations: auto-assign round-robin to an online agent
-- with free capacity, or leave them in the team queue to be claimed.
-- "billing" in a routing rule is the Billing team.
CREATE UNIQUE INDEX teams_name_lower_key ON teams (lower(name));

ALTER TABLE teams
    ADD COLUMN auto_assign boolean NOT NULL DEFAULT true,
    -- Where the team's notification emails go (SMTP_URL), if anywhere.
    ADD COLUMN email text,
    -- The round-robin pointer: the agent who got the team's last conversation.
    ADD COLUMN last_assigned_agent_id bigint REFERENCES agents (id) ON DELETE SET NULL;

-- Presence is kept alive by the inbox's heartbeat (or set for a while by the
-- CLI); past this time the agent counts as offline, whatever `presence` says.
ALTER TABLE agents ADD COLUMN presence_expires_at timestamptz;

ALTER TABLE conversations
    ADD COLUMN assigned_at timestamptz,
    -- The missed-chat ladder: 0 waiting, 1 team re-notified, 2 customer told.
    ADD COLUMN missed_stage smallint NOT NULL DEFAULT 0,
    -- What the customer was last told about their place in line, and when.
    ADD COLUMN queue_notice_position integer,
    ADD COLUMN queue_notice_at timestamptz,
    -- offline_or_missed channels and missed chats: the bot answers again
    -- while the conversation waits for a person.
    ADD COLUMN bot_fallback boolean NOT NULL DEFAULT false;
-- The queue of each team, oldest first, and what the missed-chat ladder scans.
CREATE INDEX conversations_waiting_idx ON conversations (team_id, escalated_at) WHERE status IN ('queued', 'assigned') AND first_agent_reply_at IS NULL;

-- Owned by the column, so that TRUNCATE ... RESTART IDENTITY restarts it too.
ALTER SEQUENCE ticket_number_seq OWNED BY tickets.number;

ALTER TABLE tickets
    ADD COLUMN reason text,
    -- Where an agent's reply goes when the conversation's channel cannot carry it.
    ADD COLUMN email text,
    ADD COLUMN first_reply_at timestamptz;
CREATE UNIQUE INDEX tickets_conversation_key ON tickets (conversation_id) WHERE conversation_id IS NOT NULL AND status <> 'closed';

ALTER TABLE webhook_subscriptions ADD COLUMN description text NOT NULL DEFAULT '';

ALTER TABLE webhook_deliveries
    ADD COLUMN next_attempt_at timestamptz,
    -- Set when retries are exhausted.
    ADD COLUMN failed_at timestamptz;
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- One row per attempt: what was sent where, what came back, how long it took.
CREATE TABLE webhook_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    status       integer,
    error        text,
    duration_ms  integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
