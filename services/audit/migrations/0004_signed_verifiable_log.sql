-- A verifiable log (docs/audit.md, ADR 0016): rejected records are hash-chained too, decision
-- signatures are kept with their record, and the signed tree heads of the Merkle tree over the
-- records are stored (they are also published to audit.anchors.v1 and an outside file).

-- Rejected records get a chain of their own: record_hash = sha256(prev_hash || canonical
-- content), seq in commit order under the same advisory lock as the decisions. Rows written
-- before this migration keep NULL chain columns; verify counts them as unchained.
ALTER TABLE audit.rejected_records
    ADD COLUMN seq         bigint UNIQUE CHECK (seq > 0),
    ADD COLUMN prev_hash   bytea CHECK (octet_length(prev_hash) = 32),
    ADD COLUMN record_hash bytea CHECK (octet_length(record_hash) = 32),
    ADD CONSTRAINT rejected_records_chain_columns_together
        CHECK ((seq IS NULL) = (prev_hash IS NULL) AND (seq IS NULL) = (record_hash IS NULL));

CREATE FUNCTION audit.require_chained() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NULL THEN
        RAISE EXCEPTION 'audit.% takes only chained rows (seq, prev_hash, record_hash)',
            TG_TABLE_NAME USING ERRCODE = 'not_null_violation';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION audit.require_chained() FROM PUBLIC;
CREATE TRIGGER rejected_records_chained BEFORE INSERT ON audit.rejected_records
    FOR EACH ROW EXECUTE FUNCTION audit.require_chained();

-- The decision's signature (contract v1 additions): which key, and the 64 signature bytes over
-- the value exactly as published. Part of the record's content when present.
ALTER TABLE audit.decision_records
    ADD COLUMN signature_key_id text,
    ADD COLUMN signature        bytea CHECK (octet_length(signature) = 64);

-- Signed tree heads, as signed: ``head`` is the canonical JSON the signature covers.
CREATE TABLE audit.tree_heads (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tree_size   bigint      NOT NULL CHECK (tree_size >= 0),
    head        text        NOT NULL,
    key_id      text        NOT NULL,
    signature   bytea       NOT NULL CHECK (octet_length(signature) = 64),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tree_heads_size ON audit.tree_heads (tree_size, id);
CREATE TRIGGER tree_heads_append_only BEFORE UPDATE OR DELETE ON audit.tree_heads
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER tree_heads_no_truncate BEFORE TRUNCATE ON audit.tree_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

DROP VIEW audit.decisions_v;
CREATE VIEW audit.decisions_v AS
    SELECT seq, prev_hash, record_hash, decision_id, shipment_id, event_id, exporter_id,
           outcome, trigger, catalogue_version, supersedes, decided_at, recorded_at,
           source_topic, source_partition, source_offset, reason_codes, control_ids,
           license_ids, decision::jsonb AS decision, signature_key_id, signature,
           decision AS decision_text
      FROM audit.decision_records;
DROP VIEW audit.rejected_records_v;
CREATE VIEW audit.rejected_records_v AS
    SELECT id, source_topic, source_partition, source_offset, record_key, payload, error_type,
           error, rejected_at, seq, prev_hash, record_hash
      FROM audit.rejected_records;
CREATE VIEW audit.tree_heads_v AS
    SELECT id, tree_size, head, key_id, signature, recorded_at FROM audit.tree_heads;

REVOKE ALL ON audit.tree_heads, audit.decisions_v, audit.rejected_records_v, audit.tree_heads_v
    FROM PUBLIC;
GRANT INSERT ON audit.tree_heads TO lodestone_audit_writer;
GRANT USAGE ON SEQUENCE audit.tree_heads_id_seq TO lodestone_audit_writer;
GRANT SELECT (seq, record_hash, source_topic, source_partition, source_offset)
    ON audit.rejected_records TO lodestone_audit_writer;
GRANT SELECT ON audit.decisions_v, audit.rejected_records_v, audit.tree_heads_v
    TO lodestone_auditor;
