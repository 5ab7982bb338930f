"""Declarative contracts: the columns files may carry and the pandera models of their rows.

Nothing here reads files or databases; `batch` parses text into the typed
frames these models check.
"""
