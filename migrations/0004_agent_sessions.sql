-- Server-side sessions: the login cookie carries a random token whose hash is
-- a row here, so that logging out, a password reset, deactivating an agent or
-- changing their role ends their sessions at once (a signed cookie alone
-- stays valid until it expires).
CREATE TABLE agent_sessions (
    -- sha256 of the token in the cookie; the token itself is never stored.
    id          text PRIMARY KEY,
    agent_id    bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX agent_sessions_agent_idx ON agent_sessions (agent_id);
