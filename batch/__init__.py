"""The core of hpf-batch: pure functions over bytes, frames and values.

Reading, parsing and validating remittance files, money and rounding, identity
checks and master data live here and never touch the network, the clock or the
environment. The one exception is the database adapter (``db``, ``store`` and
``migrations``), which owns every SQL statement so the rest stays pure.
"""
