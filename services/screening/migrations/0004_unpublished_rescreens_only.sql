-- A shipment event's decision is no longer marked published: until it is acknowledged its
-- event's offset is not committed, and the redelivered event re-emits it (ADR 0025). Only
-- re-screening decisions are looked up as unpublished at start, so only they are indexed;
-- otherwise every decision would stay in this index for ever.
DROP INDEX screening.decisions_unpublished;
CREATE INDEX decisions_unpublished ON screening.decisions (recorded_at)
    WHERE NOT published AND trigger <> 'shipment_event';
