"""The tamper-evident log: every register line is one leaf of an RFC 9162 Merkle tree, with signed checkpoints.

* ``appending`` — queue an entry in the caller's transaction (``append``); it commits with the step
* ``sequencing`` — group commit: queued entries get consecutive indices, many per transaction; the rule in full
* ``store`` — the log's tables, its size, its rows read in index order; ``LedgerIntegrityError``
* ``verification`` — recompute every leaf and root against the checkpoints; sign a checkpoint of a verified log
* ``proofs`` — inclusion and consistency proofs streamed from the stored leaves
* ``export`` — the log, its checkpoints and the verifier key as files an outside verifier reads alone
* ``merkle`` — RFC 9162 tree hashing and proof verification, independent of the database
* ``checkpoint`` — C2SP signed notes, Ed25519 signing and verifier keys, key files
"""
