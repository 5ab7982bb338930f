"""Contracts, importing nothing of ours: what files, frames and records look like.

Column vocabularies, reason codes and the one `Problem` record, statuses and
outcomes (StrEnum), the frame schemas the core passes on, the pandera models
of each file kind, the identifier formats and check characters they use, and
the two exception families. Nothing here reads files or databases; `batch`
parses text into the typed frames these models check.
"""
