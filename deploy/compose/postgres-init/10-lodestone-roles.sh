#!/bin/sh
# First start of the database: the `lodestone` database and its least-privilege roles, with the
# passwords given in the environment. The services' migrations (run as lodestone_admin, the
# owner) create the schemas and grant each role what it needs. Same roles as deploy/local.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres --dbname postgres \
  -v admin_pw="$LODESTONE_PG_ADMIN_PASSWORD" \
  -v screening_pw="$LODESTONE_PG_SCREENING_PASSWORD" \
  -v audit_pw="$LODESTONE_PG_AUDIT_PASSWORD" \
  -v auditor_pw="$LODESTONE_PG_AUDITOR_PASSWORD" <<'SQL'
CREATE ROLE lodestone_admin WITH LOGIN NOSUPERUSER CREATEROLE PASSWORD :'admin_pw';
CREATE ROLE lodestone_screening WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'screening_pw';
CREATE ROLE lodestone_audit_writer WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'audit_pw';
CREATE ROLE lodestone_auditor WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'auditor_pw';
CREATE DATABASE lodestone OWNER lodestone_admin ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE lodestone FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE lodestone
  TO lodestone_screening, lodestone_audit_writer, lodestone_auditor;
SQL
