-- The decision document is stored as the canonical JSON text the chain hashes, not as jsonb.
--
-- Why: parsing ~2 kB of JSON into jsonb on every insert was the largest single cost of writing a
-- record (a raw COPY of the same rows into a jsonb column ran at about 60 % of the rate into a
-- text column). Nothing filters inside the document (the auditors' filters use the indexed
-- columns), and the text column holds exactly the bytes that were hashed. Readers keep jsonb:
-- audit.decisions_v casts the column, so its columns and types are unchanged.
-- Rows written before this migration keep jsonb's text form (key order and spacing differ from
-- the canonical form); verify parses and re-canonicalises every document, so their hashes hold.
DROP VIEW audit.decisions_v;

ALTER TABLE audit.decision_records ALTER COLUMN decision TYPE text USING decision::text;

-- lz4 compresses the (TOASTed) document several times faster than the default pglz; servers
-- built without lz4 keep pglz.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE audit.decision_records ALTER COLUMN decision SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available on this server; the decision column keeps pglz';
END
$$;

CREATE VIEW audit.decisions_v AS
    SELECT seq, prev_hash, record_hash, decision_id, shipment_id, event_id, exporter_id,
           outcome, trigger, catalogue_version, supersedes, decided_at, recorded_at,
           source_topic, source_partition, source_offset, reason_codes, control_ids,
           license_ids, decision::jsonb AS decision
      FROM audit.decision_records;

REVOKE ALL ON audit.decisions_v FROM PUBLIC;
GRANT SELECT ON audit.decisions_v TO lodestone_auditor;
