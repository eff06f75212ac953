-- The shipments topic a shipment was read from: re-screening is scoped to the pipeline that
-- owns the shipment, so several pipelines (environments, tests) can share one database.
ALTER TABLE screening.shipments ADD COLUMN source_topic text NOT NULL DEFAULT '';
DROP INDEX screening.shipments_open_holds;
DROP INDEX screening.shipments_open_approvals;
CREATE INDEX shipments_open_holds
    ON screening.shipments (source_topic, exporter_id) WHERE outcome = 'hold' AND NOT cancelled;
CREATE INDEX shipments_open_approvals
    ON screening.shipments (source_topic, ship_date) WHERE outcome = 'approve' AND NOT cancelled;
