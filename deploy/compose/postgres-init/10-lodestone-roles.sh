#!/bin/sh
# First start of the database: the `lodestone` database, its owner and its least-privilege
# roles, with the passwords given in the environment. Same layout as deploy/local/roles.py
# (docs/audit.md, "Least privilege"; ADR 0015):
#
# - lodestone_owner owns the database and, through the migrations, every schema and table; it
#   cannot log in;
# - lodestone_admin, the bootstrap identity, may only become the owner (SET ROLE): the
#   migrations log in as it; no CREATEROLE, CREATEDB or superuser right;
# - the services' roles own nothing; the migrations grant each what it needs.
#
# DDL goes to the server log with its role (log_statement = ddl, from the next start on: the
# image restarts the server after these scripts).
set -eu
psql -v ON_ERROR_STOP=1 --username postgres --dbname postgres \
  -v admin_pw="$LODESTONE_PG_ADMIN_PASSWORD" \
  -v screening_pw="$LODESTONE_PG_SCREENING_PASSWORD" \
  -v audit_pw="$LODESTONE_PG_AUDIT_PASSWORD" \
  -v auditor_pw="$LODESTONE_PG_AUDITOR_PASSWORD" <<'SQL'
CREATE ROLE lodestone_owner WITH NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS;
CREATE ROLE lodestone_admin WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD :'admin_pw';
CREATE ROLE lodestone_screening WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD :'screening_pw';
CREATE ROLE lodestone_audit_writer WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD :'audit_pw';
CREATE ROLE lodestone_auditor WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD :'auditor_pw';
GRANT lodestone_owner TO lodestone_admin;
CREATE DATABASE lodestone OWNER lodestone_owner ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE lodestone FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE lodestone
  TO lodestone_screening, lodestone_audit_writer, lodestone_auditor;
GRANT CONNECT ON DATABASE lodestone TO lodestone_admin;
ALTER SYSTEM SET log_statement = 'ddl';
SQL
