"""Plumbing shared by both services: settings, logging, metrics, Kafka helpers."""
