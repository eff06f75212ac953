-- The audit store: every decision with what it was decided on, append-only and hash-chained.
-- Applied as lodestone_admin (the owner). Readers use the views at the end, never the tables.
CREATE SCHEMA IF NOT EXISTS audit;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;

-- One row per decision, in commit order. seq/prev_hash/record_hash form the hash chain:
-- record_hash = sha256(prev_hash || canonical JSON of the other columns), see docs/audit.md.
CREATE TABLE audit.decision_records (
    seq               bigint      PRIMARY KEY CHECK (seq > 0),
    prev_hash         bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    record_hash       bytea       NOT NULL CHECK (octet_length(record_hash) = 32),
    decision_id       text        NOT NULL UNIQUE,
    shipment_id       text        NOT NULL,
    event_id          text        NOT NULL,
    exporter_id       text        NOT NULL,
    outcome           text        NOT NULL CHECK (outcome IN ('approve', 'hold')),
    trigger           text        NOT NULL,
    catalogue_version text        NOT NULL,
    supersedes        text,
    decided_at        timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL,
    source_topic      text        NOT NULL,
    source_partition  integer     NOT NULL,
    source_offset     bigint      NOT NULL,
    reason_codes      text[]      NOT NULL,
    control_ids       text[]      NOT NULL,
    license_ids       text[]      NOT NULL,
    decision          jsonb       NOT NULL
);
-- Indexes for the auditors' filters; every listing pages by seq (keyset).
CREATE INDEX decision_records_shipment ON audit.decision_records (shipment_id, seq);
CREATE INDEX decision_records_exporter ON audit.decision_records (exporter_id, seq);
CREATE INDEX decision_records_decided_at ON audit.decision_records (decided_at, seq);
CREATE INDEX decision_records_outcome ON audit.decision_records (outcome, seq);
CREATE INDEX decision_records_reasons ON audit.decision_records USING gin (reason_codes);
CREATE INDEX decision_records_controls ON audit.decision_records USING gin (control_ids);
CREATE INDEX decision_records_licenses ON audit.decision_records USING gin (license_ids);

-- Records on decisions.v1 that could not be decoded: kept byte for byte, never dropped.
CREATE TABLE audit.rejected_records (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    record_key       bytea,
    payload          bytea,
    error_type       text        NOT NULL,
    error            text        NOT NULL,
    rejected_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_topic, source_partition, source_offset)
);

-- Control catalogue versions seen on controls.v1, as published (exact bytes).
CREATE TABLE audit.catalogues (
    version          text        PRIMARY KEY,
    content          bytea       NOT NULL,
    content_sha256   bytea       NOT NULL CHECK (octet_length(content_sha256) = 32),
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);

-- Append-only, enforced by the database itself (privileges below are the first line; these
-- triggers also stop the owner).
CREATE FUNCTION audit.refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Corrections are new decisions that supersede the old one.';
END
$$;

CREATE TRIGGER decision_records_append_only BEFORE UPDATE OR DELETE ON audit.decision_records
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER decision_records_no_truncate BEFORE TRUNCATE ON audit.decision_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER rejected_records_append_only BEFORE UPDATE OR DELETE ON audit.rejected_records
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER rejected_records_no_truncate BEFORE TRUNCATE ON audit.rejected_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER catalogues_append_only BEFORE UPDATE OR DELETE ON audit.catalogues
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER catalogues_no_truncate BEFORE TRUNCATE ON audit.catalogues
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- The documented read interface for auditors.
CREATE VIEW audit.decisions_v AS
    SELECT seq, prev_hash, record_hash, decision_id, shipment_id, event_id, exporter_id,
           outcome, trigger, catalogue_version, supersedes, decided_at, recorded_at,
           source_topic, source_partition, source_offset, reason_codes, control_ids,
           license_ids, decision
      FROM audit.decision_records;
CREATE VIEW audit.chain_head_v AS
    SELECT seq, record_hash, recorded_at
      FROM audit.decision_records
     ORDER BY seq DESC
     LIMIT 1;
CREATE VIEW audit.rejected_records_v AS
    SELECT id, source_topic, source_partition, source_offset, record_key, payload, error_type,
           error, rejected_at
      FROM audit.rejected_records;
CREATE VIEW audit.catalogues_v AS
    SELECT version, content, content_sha256, source_topic, source_partition, source_offset,
           recorded_at
      FROM audit.catalogues;

-- Privileges: the writer inserts (and reads only the chain head and the ids it deduplicates
-- on); the auditor reads the views; nobody else sees anything.
REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC;
REVOKE ALL ON FUNCTION audit.refuse_change() FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO lodestone_audit_writer, lodestone_auditor;
GRANT INSERT ON audit.decision_records, audit.rejected_records, audit.catalogues
    TO lodestone_audit_writer;
GRANT SELECT (seq, record_hash, decision_id) ON audit.decision_records TO lodestone_audit_writer;
GRANT USAGE ON SEQUENCE audit.rejected_records_id_seq TO lodestone_audit_writer;
GRANT SELECT ON audit.decisions_v, audit.chain_head_v, audit.rejected_records_v,
    audit.catalogues_v TO lodestone_auditor;
