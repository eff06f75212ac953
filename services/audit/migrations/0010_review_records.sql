-- People's reviews of held decisions, as published on reviews.v1 (contract v1 additions): every
-- value on the topic, readable or not, once per Kafka coordinate. Append-only like every audit
-- table. Independent of the other tables (numbered apart so that it orders with any of them).
CREATE TABLE audit.review_records (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    review_id        text,
    shipment_id      text,
    decision_id      text,
    action           text,
    line_nos         integer[],
    reviewer_id      text,
    reviewer_name    text,
    justification    text,
    reviewed_at      timestamptz,
    payload          bytea       NOT NULL,
    error            text,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_topic, source_partition, source_offset),
    CHECK ((review_id IS NULL) = (error IS NOT NULL))
);
CREATE INDEX review_records_decision_idx ON audit.review_records (decision_id);

CREATE TRIGGER review_records_append_only BEFORE UPDATE OR DELETE ON audit.review_records
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER review_records_no_truncate BEFORE TRUNCATE ON audit.review_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

CREATE VIEW audit.review_records_v AS
    SELECT id, review_id, shipment_id, decision_id, action, line_nos, reviewer_id,
           reviewer_name, justification, reviewed_at, payload, error, source_topic,
           source_partition, source_offset, recorded_at
      FROM audit.review_records;

REVOKE ALL ON audit.review_records, audit.review_records_v FROM PUBLIC;
GRANT INSERT ON audit.review_records TO lodestone_audit_writer;
GRANT SELECT ON audit.review_records_v TO lodestone_auditor;
