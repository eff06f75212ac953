-- Screening's own state: decisions (idempotency and outbox), latest state per shipment
-- (open holds for re-screening) and the licence consumption ledger.
CREATE SCHEMA IF NOT EXISTS screening;

-- Every decision taken, by id. A shipment event is decided once: the partial unique index
-- makes a repeated event_id find the stored decision instead of taking a second one.
CREATE TABLE screening.decisions (
    decision_id  text        PRIMARY KEY,
    event_id     text        NOT NULL,
    shipment_id  text        NOT NULL,
    trigger      text        NOT NULL,
    outcome      text        NOT NULL,
    payload      text        NOT NULL,   -- the Decision JSON exactly as emitted
    published    boolean     NOT NULL DEFAULT false,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX decisions_one_per_event
    ON screening.decisions (event_id) WHERE trigger = 'shipment_event';
CREATE INDEX decisions_unpublished ON screening.decisions (recorded_at) WHERE NOT published;

-- The latest decision per shipment, with the event it was taken on (for re-screening).
CREATE TABLE screening.shipments (
    shipment_id        text        PRIMARY KEY,
    exporter_id        text        NOT NULL,
    latest_decision_id text        NOT NULL REFERENCES screening.decisions (decision_id),
    latest_event_id    text        NOT NULL,
    outcome            text        NOT NULL,
    cancelled          boolean     NOT NULL DEFAULT false,
    ship_date          date        NOT NULL,
    catalogue_version  text        NOT NULL,
    event              text        NOT NULL,   -- the ShipmentEvent JSON of the latest event
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipments_open_holds
    ON screening.shipments (exporter_id) WHERE outcome = 'hold' AND NOT cancelled;
CREATE INDEX shipments_open_approvals
    ON screening.shipments (ship_date) WHERE outcome = 'approve' AND NOT cancelled;

-- One row per licence that was ever consumed: locked FOR UPDATE while a consumption of that
-- licence is re-checked and inserted, so caps hold across concurrent screening instances.
CREATE TABLE screening.licence_locks (
    license_id text PRIMARY KEY
);

-- What each shipment line consumes of a licence, in the licence's cap unit.
CREATE TABLE screening.consumption (
    license_id   text        NOT NULL REFERENCES screening.licence_locks (license_id),
    shipment_id  text        NOT NULL,
    line_no      integer     NOT NULL,
    amount       numeric     NOT NULL CHECK (amount >= 0),
    unit         text        NOT NULL,
    single_use   boolean     NOT NULL,
    decision_id  text        NOT NULL REFERENCES screening.decisions (decision_id),
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (license_id, shipment_id, line_no)
);
CREATE INDEX consumption_by_shipment ON screening.consumption (shipment_id);

-- Least privilege: the service reads and writes its rows; it cannot change the schema.
GRANT USAGE ON SCHEMA screening TO lodestone_screening;
GRANT SELECT, INSERT, UPDATE ON screening.decisions, screening.shipments TO lodestone_screening;
GRANT SELECT, INSERT ON screening.licence_locks TO lodestone_screening;
GRANT SELECT, INSERT, DELETE ON screening.consumption TO lodestone_screening;
