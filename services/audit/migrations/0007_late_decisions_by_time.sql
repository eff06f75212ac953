-- Late records are read by a window through the time they were decided, never along seq
-- (docs/audit.md "Queries at scale", ADR 0017).
--
-- A window's page adds the late records outside its blocks' seq range. With a primary key on
-- seq beside the (decided_at, seq) index, the planner served that branch's ORDER BY seq DESC
-- LIMIT by walking the primary key backwards and filtering by time: every late record in the
-- store was examined (1,000 at 1 M records in the benchmark, growing with the table). The
-- (decided_at, seq) index becomes the primary key, and the only index: a window reads the
-- late records decided within it, as many at any size of the store.
ALTER TABLE audit.late_decisions DROP CONSTRAINT late_decisions_pkey;
DROP INDEX audit.late_decisions_decided_at;
ALTER TABLE audit.late_decisions ADD PRIMARY KEY (decided_at, seq);
