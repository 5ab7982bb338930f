"""The database edge: every SQL statement of the project lives here.

Tables and migrations, master data lookups and import, the batch register
and its history, the ledger (posting, reversal, invariants), locks that die
with their process, once-per-occasion job runs, the reconciliation
queries, and funds (bank movements, money moves between the centre's
accounts, suspense, the audit log). It may import `schemas` and `batch` (the records it builds and the
pure arithmetic it stores), never `jobs`, `sftp` or the console.
"""
