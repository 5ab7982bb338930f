"""The pure core: bytes, frames and values in, values out.

Read, parse, money and rounding, the policy, the row rules and validation,
master-data files, results, the reconciliation arithmetic, the xlsx
writer, and funds: arrival files, the payment reference, matching and the
payment notice. No SQL, no socket, no clock, no environment: `now`, master data and
options are passed in. It may import `schemas` only.
"""
