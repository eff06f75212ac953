-- The canonical decision text (~2 kB) sits at PostgreSQL's TOAST threshold and was compressed
-- with pglz; lz4 (PostgreSQL 14+, built in Debian's packages) is several times faster. Rows
-- already written keep pglz; reading and verifying are unaffected.
ALTER TABLE audit.decision_records ALTER COLUMN decision SET COMPRESSION lz4;
