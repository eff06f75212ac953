"""Lodestone services: screening, audit and the shared plumbing they stand on."""
