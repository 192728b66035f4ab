-- The admin console and the reports.

ALTER TABLE channels
    -- A disabled channel keeps its conversations but receives and sends nothing.
    ADD COLUMN disabled_at timestamptz,
    -- Set when the provider refused a send for authentication (a wrong or
    -- revoked token); cleared by new credentials or the next successful send.
    ADD COLUMN auth_failed_at timestamptz,
    ADD COLUMN auth_error text;

-- Which messages failed for authentication: they are sent again once the
-- credentials are fixed.
ALTER TABLE messages ADD COLUMN failed_for_auth boolean NOT NULL DEFAULT false;
CREATE INDEX messages_auth_failed_idx ON messages (channel_id) WHERE failed_for_auth;

-- Reports read by time window. Conversations: created in the window, with
-- what the figures count carried in the index (an index-only scan).
CREATE INDEX conversations_created_idx ON conversations (created_at)
    INCLUDE (channel_id, team_id, contact_id, escalated_at, first_agent_reply_at, resolved_at, csat, status);
-- Customer messages by time and channel (volume, the learning loop).
CREATE INDEX messages_customer_created_idx ON messages (created_at) INCLUDE (channel_id, conversation_id)
    WHERE sender = 'customer';
-- Agents' public replies: the first after an escalation, and per agent in a window.
CREATE INDEX messages_agent_reply_idx ON messages (conversation_id, created_at)
    WHERE sender = 'agent' AND NOT private;
CREATE INDEX messages_agent_created_idx ON messages (created_at) INCLUDE (agent_id, conversation_id)
    WHERE sender = 'agent' AND NOT private;
-- Bot answers below confidence, with the question they answered (the learning loop).
CREATE INDEX messages_bot_unsure_idx ON messages (created_at) INCLUDE (reply_to_id, bot_confidence)
    WHERE sender = 'bot';

-- The learning loop: customer questions an admin marked handled.
CREATE TABLE kb_gaps_handled (
    message_id  bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    agent_id    bigint REFERENCES agents (id) ON DELETE SET NULL,
    handled_at  timestamptz NOT NULL DEFAULT now()
);
