-- The record store partitioned by range of seq (docs/audit.md "Growth", ADR 0018, superseding
-- ADR 0014's plan).
--
-- Why seq and not month: seq is the chain's order, monotonic and dense, what every listing
-- pages by and what the tree is defined over. A partition of seq is closed the moment the chain
-- passes its end, whatever a late decision's decided_at says, so it can be verified, archived and
-- detached once. A fixed width (a multiple of the 1024-record decided_at blocks) keeps a block in
-- one partition; the width lives in audit.partition_layout so that tests can use a small one.
--
-- What moves:
--   * decision_id uniqueness: a unique index on a partitioned table must include the partition
--     key, so the idempotency backstop is audit.decision_ids (decision_id PRIMARY KEY, seq),
--     unpartitioned and never archived, filled by the indexing trigger in the inserting
--     statement: a decision delivered again after its partition was archived is still refused;
--   * audit.decision_terms is partitioned by the same seq ranges (archived with its records);
--   * the append-only triggers: row triggers on the parent are cloned to every partition, but a
--     TRUNCATE of a partition fires only the partition's own statement triggers, and reloptions
--     (autovacuum) are per partition: audit.prepare_next_partition() adds both to every one;
--   * partitions are prepared ahead and attached by audit.ensure_partitions(), SECURITY DEFINER,
--     owned by the NOLOGIN owner, executable by the writer: the writer gets no DDL right.
-- Existing rows are copied once (verify --full gives the same heads before and after).

DROP VIEW audit.decisions_v;
DROP VIEW audit.chain_head_v;
DROP VIEW audit.decision_terms_v;
DROP TRIGGER decision_records_indexed ON audit.decision_records;
ALTER TABLE audit.decision_records RENAME TO decision_records_unpartitioned;
ALTER TABLE audit.decision_terms RENAME TO decision_terms_unpartitioned;
-- their indexes' names are taken by the new tables; the copy below reads them sequentially
ALTER TABLE audit.decision_records_unpartitioned
    RENAME CONSTRAINT decision_records_pkey TO decision_records_unpartitioned_pkey;
ALTER TABLE audit.decision_terms_unpartitioned
    RENAME CONSTRAINT decision_terms_pkey TO decision_terms_unpartitioned_pkey;
DROP INDEX audit.decision_records_shipment, audit.decision_records_exporter,
    audit.decision_records_outcome;

-- The width of the partitions prepared from now on (the owner may change it: partitions already
-- prepared keep theirs); partition ranges follow each other from seq 0.
CREATE TABLE audit.partition_layout (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    width    bigint  NOT NULL CHECK (width > 0 AND width % 1024 = 0)
);
INSERT INTO audit.partition_layout (width) VALUES (1048576);
CREATE TRIGGER partition_layout_kept BEFORE DELETE ON audit.partition_layout
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();

-- Every partition range prepared, attached and (later) archived: seq [first_seq, end_seq).
CREATE TABLE audit.record_partitions (
    first_seq     bigint      PRIMARY KEY CHECK (first_seq >= 0 AND first_seq % 1024 = 0),
    end_seq       bigint      NOT NULL UNIQUE,
    records_table text        NOT NULL UNIQUE,
    terms_table   text        NOT NULL UNIQUE,
    prepared_at   timestamptz NOT NULL DEFAULT now(),
    attached_at   timestamptz,
    CHECK (end_seq > first_seq AND end_seq % 1024 = 0)
);
CREATE TRIGGER record_partitions_kept BEFORE DELETE ON audit.record_partitions
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER record_partitions_no_truncate BEFORE TRUNCATE ON audit.record_partitions
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

CREATE TABLE audit.decision_records (
    seq               bigint      NOT NULL CHECK (seq > 0),
    prev_hash         bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    record_hash       bytea       NOT NULL CHECK (octet_length(record_hash) = 32),
    decision_id       text        NOT NULL,
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
    decision          text        COMPRESSION lz4 NOT NULL,
    signature_key_id  text,
    signature         bytea       CHECK (octet_length(signature) = 64),
    PRIMARY KEY (seq)
) PARTITION BY RANGE (seq);
CREATE INDEX decision_records_shipment ON audit.decision_records (shipment_id, seq);
CREATE INDEX decision_records_exporter ON audit.decision_records (exporter_id, seq);
CREATE INDEX decision_records_outcome ON audit.decision_records (outcome, seq);
CREATE TRIGGER decision_records_append_only BEFORE UPDATE OR DELETE ON audit.decision_records
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER decision_records_no_truncate BEFORE TRUNCATE ON audit.decision_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

CREATE TABLE audit.decision_terms (
    kind text   NOT NULL CHECK (kind IN ('reason', 'control', 'licence')),
    term text   NOT NULL,
    seq  bigint NOT NULL,
    PRIMARY KEY (kind, term, seq)
) PARTITION BY RANGE (seq);
CREATE TRIGGER decision_terms_append_only BEFORE UPDATE OR DELETE ON audit.decision_terms
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER decision_terms_no_truncate BEFORE TRUNCATE ON audit.decision_terms
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Idempotency across partitions (and across archival: never archived).
CREATE TABLE audit.decision_ids (
    decision_id text   PRIMARY KEY,
    seq         bigint NOT NULL
);
CREATE TRIGGER decision_ids_append_only BEFORE UPDATE OR DELETE ON audit.decision_ids
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER decision_ids_no_truncate BEFORE TRUNCATE ON audit.decision_ids
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
ALTER TABLE audit.decision_ids SET (
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 200000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 200000
);

-- Partitions are prepared ahead as plain tables and attached when the chain reaches them.
--
-- Why not create them attached ahead of time: CREATE TABLE … PARTITION OF takes an ACCESS
-- EXCLUSIVE lock on the parent (it waits for every running query, a verify run included, and
-- every query waits for it), and an empty partition in the plans makes the planner sort a
-- window's rows instead of walking the partitions in seq order (an empty partition's index scan
-- costs more than its sequential scan, which gives no order). ATTACH PARTITION takes only a
-- SHARE UPDATE EXCLUSIVE lock on the parent (readers and the writer's inserts go on) and, with
-- the table's CHECK constraint on the range, no scan; so the partition is attached just before
-- the batch that needs it, and holds that batch's records when it is first planned.
--
-- Owned by the owner, with its rights: the tables belong to the owner, refuse UPDATE/DELETE
-- (row triggers cloned from the parent on attach) and TRUNCATE (a trigger of their own: a
-- TRUNCATE of a partition fires only its own statement triggers), and vacuum by a fixed number
-- of inserts (reloptions are per partition).
CREATE FUNCTION audit.prepare_next_partition() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit, pg_temp AS $$
DECLARE
    lo bigint := (SELECT coalesce(max(end_seq), 0) FROM audit.record_partitions);
    hi bigint := lo + (SELECT width FROM audit.partition_layout);
    records text := format('decision_records_%s', lpad(lo::text, 12, '0'));
    terms text := format('decision_terms_%s', lpad(lo::text, 12, '0'));
    t text;
    threshold integer;
BEGIN
    FOREACH t IN ARRAY ARRAY[records, terms] LOOP
        threshold := CASE WHEN t = records THEN 200000 ELSE 500000 END;
        EXECUTE format('CREATE TABLE audit.%I (LIKE audit.%I INCLUDING DEFAULTS'
                       ' INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)',
                       t, CASE WHEN t = records THEN 'decision_records' ELSE 'decision_terms' END);
        EXECUTE format('ALTER TABLE audit.%I ADD CONSTRAINT %I CHECK (seq >= %s AND seq < %s)',
                       t, t || '_range', lo, hi);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON audit.%I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change()',
                       t || '_no_truncate', t);
        EXECUTE format('ALTER TABLE audit.%I SET (autovacuum_vacuum_insert_scale_factor = 0,'
                       ' autovacuum_vacuum_insert_threshold = %s,'
                       ' autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = %s)',
                       t, threshold, threshold);
        EXECUTE format('REVOKE ALL ON audit.%I FROM PUBLIC', t);
    END LOOP;
    INSERT INTO audit.record_partitions (first_seq, end_seq, records_table, terms_table)
    VALUES (lo, hi, records, terms);
END
$$;
REVOKE ALL ON FUNCTION audit.prepare_next_partition() FROM PUBLIC;

-- Attach partitions until they hold ``upto``, and keep one prepared beyond; returns the first seq
-- no attached partition holds. lock_timeout bounds the wait for the SHARE UPDATE EXCLUSIVE lock
-- (only another attach, a detach or a schema change holds a conflicting one). The writer may call
-- it, before a batch whose records would not fit; it chooses no width, name or statement.
CREATE FUNCTION audit.ensure_partitions(upto bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit, pg_temp
    SET lock_timeout = '5s' AS $$
DECLARE
    covered bigint;
    next audit.record_partitions;
BEGIN
    PERFORM pg_advisory_xact_lock(1098216810);  -- 'Audi' + 1: one at a time
    covered := (SELECT coalesce(max(end_seq), 0) FROM audit.record_partitions
                 WHERE attached_at IS NOT NULL);
    WHILE covered <= upto LOOP
        IF NOT EXISTS (SELECT FROM audit.record_partitions WHERE attached_at IS NULL) THEN
            PERFORM audit.prepare_next_partition();
        END IF;
        SELECT * INTO STRICT next FROM audit.record_partitions
         WHERE attached_at IS NULL ORDER BY first_seq LIMIT 1;
        EXECUTE format('ALTER TABLE audit.decision_records ATTACH PARTITION audit.%I'
                       ' FOR VALUES FROM (%s) TO (%s)',
                       next.records_table, next.first_seq, next.end_seq);
        EXECUTE format('ALTER TABLE audit.decision_terms ATTACH PARTITION audit.%I'
                       ' FOR VALUES FROM (%s) TO (%s)',
                       next.terms_table, next.first_seq, next.end_seq);
        UPDATE audit.record_partitions SET attached_at = now() WHERE first_seq = next.first_seq;
        covered := next.end_seq;
    END LOOP;
    IF NOT EXISTS (SELECT FROM audit.record_partitions WHERE attached_at IS NULL) THEN
        PERFORM audit.prepare_next_partition();
    END IF;
    RETURN covered;
END
$$;
REVOKE ALL ON FUNCTION audit.ensure_partitions(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.ensure_partitions(bigint) TO lodestone_audit_writer;

-- The same indexing trigger, on the parent (PostgreSQL 15 allows transition tables there), now
-- also keeping every decision id: a repeated one aborts the statement, as the UNIQUE constraint
-- on the unpartitioned table did.
CREATE OR REPLACE FUNCTION audit.index_new_records() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit, pg_temp AS $$
BEGIN
    INSERT INTO audit.decision_ids (decision_id, seq) SELECT decision_id, seq FROM new_records;
    INSERT INTO audit.decision_terms (kind, term, seq)
    SELECT DISTINCT kind, term, seq FROM (
        SELECT 'reason', unnest(reason_codes), seq FROM new_records
        UNION ALL SELECT 'control', unnest(control_ids), seq FROM new_records
        UNION ALL SELECT 'licence', unnest(license_ids), seq FROM new_records
    ) AS terms (kind, term, seq);
    WITH recent AS (
        SELECT max(max_decided) AS high FROM audit.decided_at_blocks
         WHERE block >= (SELECT max(block) - 1 FROM audit.decided_at_blocks)
    ), moments AS (
        SELECT seq, decided_at,
               decided_at < greatest(
                   (SELECT high FROM recent),
                   max(decided_at)
                       OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
               ) - interval '1 hour' AS late
          FROM new_records
    ), listed AS (
        INSERT INTO audit.late_decisions (seq, decided_at)
        SELECT seq, decided_at FROM moments WHERE late
    )
    INSERT INTO audit.decided_at_blocks AS b (block, min_decided, max_decided)
    SELECT seq / 1024, min(decided_at), max(decided_at) FROM moments
     WHERE late IS NOT TRUE GROUP BY seq / 1024
    ON CONFLICT (block) DO UPDATE
        SET min_decided = least(b.min_decided, excluded.min_decided),
            max_decided = greatest(b.max_decided, excluded.max_decided);
    RETURN NULL;
END
$$;

-- Rows recorded before this migration: partitions for them, then a copy. (None for an empty
-- store: the writer's first batch attaches the first one, of the width set by then.)
SELECT audit.ensure_partitions(max(seq)) FROM audit.decision_records_unpartitioned
HAVING count(*) > 0;
INSERT INTO audit.decision_records SELECT
    seq, prev_hash, record_hash, decision_id, shipment_id, event_id, exporter_id, outcome,
    trigger, catalogue_version, supersedes, decided_at, recorded_at, source_topic,
    source_partition, source_offset, reason_codes, control_ids, license_ids, decision,
    signature_key_id, signature
  FROM audit.decision_records_unpartitioned ORDER BY seq;
INSERT INTO audit.decision_terms SELECT kind, term, seq FROM audit.decision_terms_unpartitioned;
INSERT INTO audit.decision_ids SELECT decision_id, seq FROM audit.decision_records_unpartitioned;
DROP TABLE audit.decision_records_unpartitioned;
DROP TABLE audit.decision_terms_unpartitioned;

CREATE TRIGGER decision_records_indexed AFTER INSERT ON audit.decision_records
    REFERENCING NEW TABLE AS new_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit.index_new_records();

-- Archived ranges: what left the live store, where to, and its seam (docs/audit.md). Written by
-- `lodestone audit archive` as the owner, in the transaction that detaches the partition.
CREATE TABLE audit.archived_ranges (
    first_seq        bigint      PRIMARY KEY CHECK (first_seq > 0),
    last_seq         bigint      NOT NULL UNIQUE,
    prev_hash        bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    last_record_hash bytea       NOT NULL CHECK (octet_length(last_record_hash) = 32),
    frontier         bytea[]     NOT NULL,
    file_name        text        NOT NULL,
    file_sha256      bytea       NOT NULL CHECK (octet_length(file_sha256) = 32),
    archived_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (last_seq >= first_seq)
);
CREATE TRIGGER archived_ranges_append_only BEFORE UPDATE OR DELETE ON audit.archived_ranges
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER archived_ranges_no_truncate BEFORE TRUNCATE ON audit.archived_ranges
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

CREATE VIEW audit.decisions_v AS
    SELECT seq, prev_hash, record_hash, decision_id, shipment_id, event_id, exporter_id,
           outcome, trigger, catalogue_version, supersedes, decided_at, recorded_at,
           source_topic, source_partition, source_offset, reason_codes, control_ids,
           license_ids, decision::jsonb AS decision, signature_key_id, signature,
           decision AS decision_text
      FROM audit.decision_records;
CREATE VIEW audit.chain_head_v AS
    SELECT seq, record_hash, recorded_at
      FROM audit.decision_records
     ORDER BY seq DESC
     LIMIT 1;
CREATE VIEW audit.decision_terms_v AS
    SELECT kind, term, seq FROM audit.decision_terms;
CREATE VIEW audit.record_partitions_v AS
    SELECT first_seq, end_seq, records_table, prepared_at, attached_at
      FROM audit.record_partitions;
CREATE VIEW audit.decision_ids_v AS
    SELECT decision_id, seq FROM audit.decision_ids;
CREATE VIEW audit.archived_ranges_v AS
    SELECT first_seq, last_seq, prev_hash, last_record_hash, frontier, file_name, file_sha256,
           archived_at
      FROM audit.archived_ranges;

REVOKE ALL ON audit.decision_records, audit.decision_terms, audit.decision_ids,
    audit.partition_layout, audit.record_partitions, audit.archived_ranges, audit.decisions_v,
    audit.chain_head_v, audit.decision_terms_v, audit.decision_ids_v, audit.archived_ranges_v,
    audit.record_partitions_v FROM PUBLIC;
GRANT INSERT ON audit.decision_records TO lodestone_audit_writer;
GRANT SELECT (seq, record_hash) ON audit.decision_records TO lodestone_audit_writer;
GRANT SELECT (decision_id) ON audit.decision_ids TO lodestone_audit_writer;
GRANT SELECT (last_seq, last_record_hash, frontier) ON audit.archived_ranges
    TO lodestone_audit_writer;
GRANT SELECT ON audit.decisions_v, audit.chain_head_v, audit.decision_terms_v,
    audit.decision_ids_v, audit.archived_ranges_v, audit.record_partitions_v TO lodestone_auditor;
