"""Ingest: provider records into the evidence store, at COPY speed, with provenance.

A file is hashed as received, read as a stream, validated line by line and loaded into
PostgreSQL; every accepted row keeps its batch and its own content hash, every rejected
line is reported with its line number, field and reason and kept as an evidence file.
"""
