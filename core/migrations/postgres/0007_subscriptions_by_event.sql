-- Publishing reads the live subscriptions of a tenant to the event, or to every event (an empty
-- list). By the tenant's index alone it read and tested each of the tenant's subscriptions: with
-- 100,000 of them to other events a publish took 110-160 ms (bench/src/bin/curves, curve 3);
-- with these two indexes, a BitmapOr of both, 1.7-2.4 ms. They index the two arms of that
-- test: the lists by their elements, and the subscriptions to every event by tenant.
CREATE INDEX hookspec_subscriptions_events ON hookspec_subscriptions USING GIN ((events::jsonb) jsonb_path_ops);
CREATE INDEX hookspec_subscriptions_every_event ON hookspec_subscriptions (owner) WHERE jsonb_array_length(events::jsonb) = 0;
