-- Auditor queries that stay flat as the store grows (docs/audit.md "Queries at scale", ADR 0017).
--
-- Every listing pages newest first by seq (keyset). A filter is served in constant work per page
-- only if an index walks its matches in seq order:
--   * shipment, exporter, outcome: the B-tree indexes (column, seq) of migration 0001;
--   * reason code, control id, licence id: the array columns cannot be B-tree indexed element by
--     element, and their GIN indexes return matches unordered (the planner walked the primary key
--     backwards and filtered instead). audit.decision_terms holds one row per (kind, term, seq),
--     its primary key is the (filter, seq) index; the GIN indexes are dropped;
--   * a decided_at window: decided_at is not monotonic in seq, so no seq-ordered index seeks it.
--     audit.decided_at_blocks keeps, per block of 1024 consecutive seqs, the least and greatest
--     decided_at; a window becomes the seq range of the blocks it touches, which bounds the walk.
--     A record decided more than an hour before the latest decision recorded before it (replayed,
--     or held back while others went on) would stretch that range by its delay: it is listed in
--     audit.late_decisions instead, which a window also reads, through its own index.
-- Both are filled in the inserting statement by a trigger (the writer needs no new right, and
-- COPY fires it), so a reader sees them exactly as consistent as the records.

CREATE TABLE audit.decision_terms (
    kind text   NOT NULL CHECK (kind IN ('reason', 'control', 'licence')),
    term text   NOT NULL,
    seq  bigint NOT NULL,
    PRIMARY KEY (kind, term, seq)
);
CREATE TRIGGER decision_terms_append_only BEFORE UPDATE OR DELETE ON audit.decision_terms
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER decision_terms_no_truncate BEFORE TRUNCATE ON audit.decision_terms
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- A summary, not evidence: its bounds only ever widen (least/greatest), and a listing that used a
-- wrong summary would miss rows the chain, the tree and `verify` still hold.
CREATE TABLE audit.decided_at_blocks (
    block       bigint      PRIMARY KEY CHECK (block >= 0),
    min_decided timestamptz NOT NULL,
    max_decided timestamptz NOT NULL
);

CREATE TABLE audit.late_decisions (
    seq        bigint      PRIMARY KEY,
    decided_at timestamptz NOT NULL
);
CREATE INDEX late_decisions_decided_at ON audit.late_decisions (decided_at, seq);
CREATE TRIGGER late_decisions_append_only BEFORE UPDATE OR DELETE ON audit.late_decisions
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER late_decisions_no_truncate BEFORE TRUNCATE ON audit.late_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- A record is late when its decided_at is more than an hour before the high-water mark: the
-- latest decided_at of the last two blocks and of the batch's earlier records.
CREATE FUNCTION audit.index_new_records() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit, pg_temp AS $$
BEGIN
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
REVOKE ALL ON FUNCTION audit.index_new_records() FROM PUBLIC;
CREATE TRIGGER decision_records_indexed AFTER INSERT ON audit.decision_records
    REFERENCING NEW TABLE AS new_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit.index_new_records();

-- Rows recorded before this migration.
INSERT INTO audit.decision_terms (kind, term, seq)
SELECT DISTINCT kind, term, seq FROM (
    SELECT 'reason', unnest(reason_codes), seq FROM audit.decision_records
    UNION ALL SELECT 'control', unnest(control_ids), seq FROM audit.decision_records
    UNION ALL SELECT 'licence', unnest(license_ids), seq FROM audit.decision_records
) AS terms (kind, term, seq);
INSERT INTO audit.decided_at_blocks (block, min_decided, max_decided)
SELECT seq / 1024, min(decided_at), max(decided_at) FROM audit.decision_records
 GROUP BY seq / 1024;  -- records already stored all count as on time (none is left out)

DROP INDEX audit.decision_records_reasons;
DROP INDEX audit.decision_records_controls;
DROP INDEX audit.decision_records_licenses;
-- A window is served by the blocks above; walking (decided_at, seq) and sorting by seq grew with
-- the rows in the window.
DROP INDEX audit.decision_records_decided_at;

-- Append-only tables: autovacuum has no dead rows to remove, only pages to mark all-visible and
-- to freeze. Triggered by a share of the table (the default 20 % of inserts), each pass grows
-- with the table and one of them competed with the writer; a fixed number of inserts keeps every
-- pass small and regular, and statistics fresh for new exporters and licences.
ALTER TABLE audit.decision_records SET (
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 200000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 200000
);
ALTER TABLE audit.decision_terms SET (
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 500000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 500000
);

CREATE VIEW audit.decision_terms_v AS
    SELECT kind, term, seq FROM audit.decision_terms;
CREATE VIEW audit.decided_at_blocks_v AS
    SELECT block, block * 1024 AS first_seq, block * 1024 + 1023 AS last_seq, min_decided,
           max_decided
      FROM audit.decided_at_blocks;

CREATE VIEW audit.late_decisions_v AS
    SELECT seq, decided_at FROM audit.late_decisions;

REVOKE ALL ON audit.decision_terms, audit.decided_at_blocks, audit.late_decisions,
    audit.decision_terms_v, audit.decided_at_blocks_v, audit.late_decisions_v FROM PUBLIC;
GRANT SELECT ON audit.decision_terms_v, audit.decided_at_blocks_v, audit.late_decisions_v
    TO lodestone_auditor;
