"""The console (SPEC §10): a FastAPI app over the operations of `jobs`, with its templates and vendored assets.

Every change a page offers is a call to `jobs.operate` (rerun, reverse, assign,
transfer) under the logged-in user's name; reads go through `jobs.operate` and
`db`. It may import every layer below it (schemas, batch, db, sftp, jobs);
nothing imports it but the `hpf web` command, lazily.
"""
