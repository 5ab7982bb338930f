"""Wiring: configuration, the pipeline, the scheduler and the command line."""
