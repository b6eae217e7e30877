-- Publishing reads the live subscriptions of a tenant to the event, or to every event (an empty
-- list). By the tenant's index alone it read each of the tenant's subscriptions and tested its
-- JSON list with json_each: with 100,000 of them to other events a publish took 45-90 ms
-- (bench/src/bin/curves, curve 3). SQLite cannot index a list's elements, so they get a table
-- of their own, keyed as publishing looks them up (event, then tenant), and the subscriptions
-- to every event a partial index by tenant: a publish reads the rows it delivers to and no
-- others. (PostgreSQL's migration 7 does the same with a GIN index.)
--
-- The table is kept by triggers, so that no statement writing a subscription, in hookspec or
-- beside it, can leave it behind. Only arrays are listed, and only their strings: a list that
-- is not an array has json_array_length 0 and stays a subscription to every event, as before;
-- an element that is not a string never equalled an event's name. A row is found again through
-- the old list (OLD.events) by its key, so the table needs no second index and no foreign key,
-- whose cascade would want one.
CREATE TABLE hookspec_subscription_events (
    event           TEXT NOT NULL,
    owner           TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    PRIMARY KEY (event, owner, subscription_id)
) WITHOUT ROWID;

INSERT INTO hookspec_subscription_events (event, owner, subscription_id)
SELECT DISTINCT e.value, s.owner, s.id
FROM hookspec_subscriptions s, json_each(s.events) e
WHERE json_type(s.events) = 'array' AND e.type = 'text';

CREATE TRIGGER hookspec_subscription_events_insert
AFTER INSERT ON hookspec_subscriptions
BEGIN
    INSERT INTO hookspec_subscription_events (event, owner, subscription_id)
    SELECT DISTINCT value, NEW.owner, NEW.id FROM json_each(NEW.events)
    WHERE json_type(NEW.events) = 'array' AND type = 'text';
END;

CREATE TRIGGER hookspec_subscription_events_update
AFTER UPDATE OF id, owner, events ON hookspec_subscriptions
WHEN OLD.id IS NOT NEW.id OR OLD.owner IS NOT NEW.owner OR OLD.events IS NOT NEW.events
BEGIN
    DELETE FROM hookspec_subscription_events
    WHERE owner = OLD.owner AND subscription_id = OLD.id AND event IN (
        SELECT value FROM json_each(OLD.events)
        WHERE json_type(OLD.events) = 'array' AND type = 'text');
    INSERT INTO hookspec_subscription_events (event, owner, subscription_id)
    SELECT DISTINCT value, NEW.owner, NEW.id FROM json_each(NEW.events)
    WHERE json_type(NEW.events) = 'array' AND type = 'text';
END;

CREATE TRIGGER hookspec_subscription_events_delete
AFTER DELETE ON hookspec_subscriptions
BEGIN
    DELETE FROM hookspec_subscription_events
    WHERE owner = OLD.owner AND subscription_id = OLD.id AND event IN (
        SELECT value FROM json_each(OLD.events)
        WHERE json_type(OLD.events) = 'array' AND type = 'text');
END;

CREATE INDEX hookspec_subscriptions_every_event ON hookspec_subscriptions (owner)
WHERE json_array_length(events) = 0;
