"""Wiring, and the only layer that reads the environment, the clock and local files.

Settings (`hpf.toml` and `HPF_*`), the pipeline that takes each file through
its steps and the funds it waits for (`funding`), the scheduler, operator actions, reports, the thin CLI and its
rendering, the demo. It may import every layer below it: `schemas`, `batch`,
`db` and `sftp`; the console (`web/`, later) imports it, never the reverse.
"""
