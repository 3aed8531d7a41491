"""The record: terms, accounts, assent, usage, ingest batches, evidence files and the ledger."""
