-- Every event belongs to a tenant (the owner the management API knows) and reaches only that
-- tenant's subscriptions; NULL marks an event broadcast to every tenant. Messages stored
-- before this version were published to everyone, so they stay NULL.
ALTER TABLE hookspec_messages ADD COLUMN tenant TEXT;
-- Publishing reads a tenant's live subscriptions, and the management API lists them by id.
CREATE INDEX hookspec_subscriptions_owner ON hookspec_subscriptions (owner, id);
