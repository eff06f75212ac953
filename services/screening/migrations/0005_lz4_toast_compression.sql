-- Decision payloads (~2 kB) and event documents (~1 kB) sit at PostgreSQL's TOAST threshold and
-- were compressed with pglz, the slowest part of the batch write. lz4 (PostgreSQL 14+, built in
-- Debian's packages) compresses several times faster; rows already written keep pglz.
ALTER TABLE screening.decisions ALTER COLUMN payload SET COMPRESSION lz4;
ALTER TABLE screening.shipments ALTER COLUMN event SET COMPRESSION lz4;
