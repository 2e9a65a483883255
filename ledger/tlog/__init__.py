"""The tamper-evident log: every register line is one leaf of an RFC 9162 Merkle tree, with signed checkpoints.

* ``appending`` — queue an entry in the caller's transaction (``append``); it commits with the step
* ``sequencing`` — group commit: queued entries get consecutive indices, many per transaction; the rule in full
* ``store`` — the log's tables, its size, its rows read in index order; ``LedgerIntegrityError``
* ``tiles`` — the tree's interior hashes stored 256 to a row (C2SP tlog-tiles layout), written as entries are sequenced
* ``verification`` — recompute every leaf, root and tile; sign a checkpoint after checking what is new since the last
* ``proofs`` — inclusion and consistency proofs and roots at any size, from a few tile rows
* ``export`` — the log, its checkpoints and the verifier key as files an outside verifier reads alone
* ``merkle`` — RFC 9162 tree hashing and proof verification, independent of the database
* ``checkpoint`` — C2SP signed notes, Ed25519 signing and verifier keys, key files
"""
