"""Custody: what makes the record evidence.

`canonical` defines every hash the record is checked by; `ledger` is the hash-chained log
of every act on evidence, and `events` names each kind of act it records, with its
payload; `integrity` and `verification` recompute the record against its hashes;
`timestamping` anchors the ledger head with a trusted timestamp; `preservation` holds
legal holds, retention purges and an object's custody history.
"""
