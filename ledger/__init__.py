"""The record: database models, the tamper-evident log, the registers written on it, and the reports read from them.

Nothing here imports ``exchange``, ``policies`` or ``connectors`` (``tests/test_architecture.py``).

* ``models`` — every table, grouped by domain
* ``migrations`` — Alembic revisions, the only way the schema changes; ``migrate`` runs them from code
* ``db`` — engine and session factory (SQLite or PostgreSQL)
* ``tlog`` — the append-only Merkle log with signed checkpoints, proofs and export
* ``canonical`` — canonical JSON, the exact bytes hashed into the log
* ``registers`` — the handover and media registers, written as log entries
* ``reports`` — registers and findings as PDF, XLSX and CSV for the privacy council and auditors
* ``documents`` — Japanese fonts, letter layout and the duties' PDFs
* ``hub_certificate`` — the hub's signed deletion certificate document
* ``wareki`` — 和暦 dates, fiscal years and the one JST
* ``files`` — the one atomic write (temp, fsync, rename, directory fsync)
* ``jurisdiction`` — the one test of a declared jurisdiction (C-14)

``wareki``, ``files``, ``jurisdiction`` and ``documents.fonts`` are pure helpers that ``connectors`` may import.
"""
