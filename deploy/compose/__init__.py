"""The compose stack (``compose.yaml``) and its smoke test (``make compose-smoke``)."""
