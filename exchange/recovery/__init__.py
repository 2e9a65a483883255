"""Backup and restore (C-13): a consistent set of the database, the blobs and the ledger's root, keys never in it.

* ``backup`` — ``handover backup``: the database copy, the blob manifest (and local blobs), the ledger state
* ``restore`` — ``handover restore``: the database, folders, blobs and ledger verification of a rebuilt hub
* ``manifest`` — the set's ``manifest.json``: what it holds and what the hub looked like
* ``database`` — SQLite online backup, pg_dump and pg_restore
* ``folder_plan`` — which folders a restored hub uses: moved, mapped or relocated, never the original's by accident
"""
