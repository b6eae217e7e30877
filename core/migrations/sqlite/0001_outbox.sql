-- The first schema, as SQLite takes it (PostgreSQL's own is in ../postgres/).
CREATE TABLE hookspec_subscriptions (
    id              TEXT PRIMARY KEY,
    owner           TEXT NOT NULL DEFAULT '',
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,              -- JSON array of webhook names; empty: every event
    filter          TEXT,                       -- filter expression on the payload
    description     TEXT,
    metadata        TEXT,                       -- JSON
    secrets         TEXT NOT NULL,              -- JSON array of {"secret", "expires_at"}
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    failing_since   BIGINT,
    rate_limit      BIGINT,                     -- deliveries per second; NULL: unlimited
    expires_at      BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE hookspec_messages (
    id         TEXT PRIMARY KEY,
    event      TEXT NOT NULL,
    method     TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE hookspec_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL REFERENCES hookspec_messages (id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL REFERENCES hookspec_subscriptions (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,              -- pending, succeeded, failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX hookspec_deliveries_due ON hookspec_deliveries (status, next_attempt_at);
CREATE INDEX hookspec_deliveries_subscription ON hookspec_deliveries (subscription_id);
CREATE INDEX hookspec_deliveries_message ON hookspec_deliveries (message_id);

CREATE TABLE hookspec_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      BIGINT NOT NULL REFERENCES hookspec_deliveries (id) ON DELETE CASCADE,
    attempted_at     BIGINT NOT NULL,
    status_code      BIGINT,
    error            TEXT,
    latency_ms       BIGINT NOT NULL,
    response_excerpt TEXT
);
CREATE INDEX hookspec_attempts_delivery ON hookspec_attempts (delivery_id);
