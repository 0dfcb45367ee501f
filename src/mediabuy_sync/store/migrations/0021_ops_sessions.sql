-- /ops sessions kept server-side (issue 20): a logout ends its session for good, and
-- `mediabuy-sync ops end-sessions` ends every one. The cookie carries the id and its HMAC only.
CREATE TABLE ops_sessions (
    id         text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz
);
CREATE INDEX ops_sessions_expires ON ops_sessions (expires_at);
