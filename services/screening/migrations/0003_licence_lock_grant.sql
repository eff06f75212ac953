-- SELECT … FOR UPDATE needs the UPDATE privilege: the service locks licence rows to re-check
-- caps, and never changes them.
GRANT UPDATE ON screening.licence_locks TO lodestone_screening;
