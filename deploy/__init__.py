"""Deployment tooling for Lodestone: the local runtime today, compose/Kubernetes later."""
