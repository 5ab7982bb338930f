"""The pure core: bytes, frames and values in, values out.

Read, parse, money and rounding, the policy, the row rules and validation,
master-data files, results, the reconciliation arithmetic and the xlsx
writer. No SQL, no socket, no clock, no environment: `now`, master data and
options are passed in. It may import `schemas` only.
"""
