"""Shipments framed in Confluent's Schema Registry wire format (ADR 0032)."""
