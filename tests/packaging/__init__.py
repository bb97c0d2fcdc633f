"""Packaging and ecosystem checks: tarball contents, sanity, lint, environments, docs, changelog."""
