"""The network edge: the paramiko SFTP client (`client`), the embedded test and demo server (`server`).

It has its own settings dataclass (`settings`) and its own errors (`errors`,
in the two families of `schemas.errors`). It may import `schemas` only; the
client reads the private key it is configured with, and nothing else local.
"""
