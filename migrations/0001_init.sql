-- The whole conversation model of DESIGN.md.
-- Conventions: bigint identity keys, timestamptz everywhere, jsonb for
-- provider-specific and admin-editable data, CHECK constraints for every
-- enumerated status so a typo in code fails loudly.

CREATE TABLE teams (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    -- Business hours: {"timezone": "Europe/Paris", "weekly": {...}, "holidays": [...]}
    hours       jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL,
    name            text NOT NULL,
    password_hash   text NOT NULL,
    is_admin        boolean NOT NULL DEFAULT false,
    -- sha256 of the personal API token; the token itself is shown once.
    api_token_hash  text UNIQUE,
    presence        text NOT NULL DEFAULT 'offline' CHECK (presence IN ('online', 'away', 'offline')),
    presence_at     timestamptz,
    capacity        integer NOT NULL DEFAULT 5 CHECK (capacity >= 0),
    disabled_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX agents_email_key ON agents (lower(email));

CREATE TABLE agent_teams (
    agent_id  bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    team_id   bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, team_id)
);
CREATE INDEX agent_teams_team_idx ON agent_teams (team_id);

CREATE TABLE channels (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('whatsapp', 'messenger', 'web')),
    name         text NOT NULL,
    -- How inbound traffic finds this row: the Twilio number (whatsapp:+E164),
    -- the Page id, or the widget's public key.
    address      text NOT NULL,
    -- Provider secrets (auth token, page token, app secret, verify token).
    credentials  jsonb NOT NULL DEFAULT '{}',
    mode         text NOT NULL DEFAULT 'bot_only' CHECK (mode IN ('bot_only', 'hybrid', 'offline_or_missed')),
    team_id      bigint REFERENCES teams (id) ON DELETE SET NULL,
    settings     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, address)
);

CREATE TABLE contacts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text,
    email           text,
    phone           text,          -- E.164, e.g. +15551230001
    vip             boolean NOT NULL DEFAULT false,
    attributes      jsonb NOT NULL DEFAULT '{}',
    -- Set when an agent merges this contact into another one.
    merged_into_id  bigint REFERENCES contacts (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- One live contact per phone number and per email: this is what joins a
-- person's WhatsApp and web conversations.
CREATE UNIQUE INDEX contacts_phone_key ON contacts (phone) WHERE phone IS NOT NULL AND merged_into_id IS NULL;
CREATE UNIQUE INDEX contacts_email_key ON contacts (lower(email)) WHERE email IS NOT NULL AND merged_into_id IS NULL;

CREATE TABLE contact_identities (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id    bigint NOT NULL REFERENCES contacts (id),
    channel_id    bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    -- whatsapp:+E164, a Messenger PSID, or a widget visitor id.
    address       text NOT NULL,
    profile_name  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel_id, address)
);
CREATE INDEX contact_identities_contact_idx ON contact_identities (contact_id);

CREATE TABLE conversations (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id                bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    contact_id                bigint NOT NULL REFERENCES contacts (id),
    identity_id               bigint NOT NULL REFERENCES contact_identities (id),
    status                    text NOT NULL DEFAULT 'bot'
                              CHECK (status IN ('bot', 'queued', 'assigned', 'resolved', 'ticket')),
    mode                      text NOT NULL DEFAULT 'bot_only' CHECK (mode IN ('bot_only', 'hybrid', 'offline_or_missed')),
    team_id                   bigint REFERENCES teams (id) ON DELETE SET NULL,
    assignee_id               bigint REFERENCES agents (id) ON DELETE SET NULL,
    priority                  text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    escalation_reason         text,
    escalation_detail         jsonb,
    handoff_packet            jsonb,
    low_confidence_streak     integer NOT NULL DEFAULT 0,
    -- Details the bot collected: order numbers, emails, phone numbers.
    collected                 jsonb NOT NULL DEFAULT '{}',
    csat                      smallint CHECK (csat BETWEEN 1 AND 5),
    -- Messenger read/delivery watermarks (ms since epoch) of the customer.
    delivered_watermark       bigint,
    read_watermark            bigint,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    last_message_at           timestamptz NOT NULL DEFAULT now(),
    last_customer_message_at  timestamptz,
    escalated_at              timestamptz,
    first_agent_reply_at      timestamptz,
    resolved_at               timestamptz
);
-- At most one open conversation per customer address: a new message joins it.
CREATE UNIQUE INDEX conversations_open_key ON conversations (identity_id) WHERE status <> 'resolved';
-- The inbox: a team's queue, an agent's assignments, a contact's history.
CREATE INDEX conversations_queue_idx ON conversations (status, team_id, last_message_at DESC);
CREATE INDEX conversations_assignee_idx ON conversations (assignee_id, status) WHERE assignee_id IS NOT NULL;
CREATE INDEX conversations_contact_idx ON conversations (contact_id, last_message_at DESC);

-- Ordered so that a late callback never moves a message backwards
-- (a "sent" arriving after "read" is ignored). failed/undelivered are final.
CREATE FUNCTION message_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE status
        WHEN 'received'    THEN 0
        WHEN 'pending'     THEN 1
        WHEN 'retrying'    THEN 2
        WHEN 'sending'     THEN 3
        WHEN 'queued'      THEN 4
        WHEN 'accepted'    THEN 4
        WHEN 'sent'        THEN 5
        WHEN 'delivered'   THEN 6
        WHEN 'read'        THEN 7
        WHEN 'undelivered' THEN 8
        WHEN 'failed'      THEN 8
    END
$$;

CREATE TABLE messages (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id      bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    channel_id           bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    direction            text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    sender               text NOT NULL CHECK (sender IN ('customer', 'bot', 'agent', 'system')),
    agent_id             bigint REFERENCES agents (id) ON DELETE SET NULL,
    text                 text NOT NULL DEFAULT '',
    -- [{"url": ..., "content_type": ..., "kind": image|audio|video|file|location}]
    attachments          jsonb NOT NULL DEFAULT '[]',
    -- Button / postback / quick-reply payload the customer tapped.
    payload              text,
    provider_message_id  text,
    status               text NOT NULL CHECK (message_status_rank(status) IS NOT NULL),
    error_code           text,
    error_message        text,
    attempts             integer NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz,
    bot_confidence       real CHECK (bot_confidence BETWEEN 0 AND 1),
    private              boolean NOT NULL DEFAULT false,
    -- The inbound message a bot reply answers: at most one reply each.
    reply_to_id          bigint REFERENCES messages (id) ON DELETE SET NULL,
    processed_at         timestamptz,
    metadata             jsonb NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT now(),
    sent_at              timestamptz,
    delivered_at         timestamptz,
    read_at              timestamptz,
    CHECK ((direction = 'inbound') = (sender = 'customer'))
);
-- Provider retries never duplicate a message.
CREATE UNIQUE INDEX messages_provider_key ON messages (channel_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_one_bot_reply_key ON messages (reply_to_id) WHERE sender = 'bot';
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);
-- What the sweeper looks for: inbound never processed, outbound never sent.
CREATE INDEX messages_unprocessed_idx ON messages (created_at) WHERE direction = 'inbound' AND processed_at IS NULL;
CREATE INDEX messages_outbox_idx ON messages (next_attempt_at) WHERE status IN ('pending', 'retrying', 'sending');

-- A delivery receipt that arrived before the send recorded its provider id.
CREATE TABLE early_receipts (
    channel_id           bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    provider_message_id  text NOT NULL,
    status               text NOT NULL,
    error_code           text,
    error_message        text,
    received_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, provider_message_id)
);

-- Ticket numbers customers see start at 1001, not at 1.
CREATE SEQUENCE ticket_number_seq START 1001;

CREATE TABLE tickets (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number           bigint NOT NULL UNIQUE DEFAULT nextval('ticket_number_seq'),
    conversation_id  bigint REFERENCES conversations (id) ON DELETE SET NULL,
    contact_id       bigint NOT NULL REFERENCES contacts (id),
    team_id          bigint REFERENCES teams (id) ON DELETE SET NULL,
    assignee_id      bigint REFERENCES agents (id) ON DELETE SET NULL,
    subject          text NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'closed')),
    due_at           timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz
);
CREATE INDEX tickets_open_idx ON tickets (team_id, due_at) WHERE status <> 'closed';

CREATE TABLE canned_responses (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id     bigint REFERENCES teams (id) ON DELETE CASCADE,
    shortcut    text NOT NULL,
    text        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX canned_responses_shortcut_key ON canned_responses (coalesce(team_id, 0), lower(shortcut));

CREATE TABLE kb_articles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       text NOT NULL,
    body        text NOT NULL,
    -- Where it came from (file path and heading), so a re-import updates it.
    source      text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_subscriptions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         text NOT NULL,
    secret      text NOT NULL,
    events      text[] NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  bigint NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event            text NOT NULL,
    payload          jsonb NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    last_status      integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Admin-editable configuration (bot settings, triggers, routing): key -> JSON.
CREATE TABLE settings (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The audit trail: every trigger that fired, assignment, failed send.
CREATE TABLE events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL,
    conversation_id  bigint REFERENCES conversations (id) ON DELETE CASCADE,
    message_id       bigint REFERENCES messages (id) ON DELETE SET NULL,
    agent_id         bigint REFERENCES agents (id) ON DELETE SET NULL,
    detail           jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_conversation_idx ON events (conversation_id, id);
CREATE INDEX events_kind_idx ON events (kind, created_at DESC);
