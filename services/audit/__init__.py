"""The audit service: every decision recorded tamper-evidently in PostgreSQL."""
