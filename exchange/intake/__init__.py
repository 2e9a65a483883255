"""Intake: from a file dropped in a watched folder to delivered packages, durably.

* ``service`` — runs intake: watchers, queueing, workers
* ``stability`` — when a dropped file is complete
* ``pipeline`` — the durable steps (take in, check, pack, deliver, finish or quarantine) with leases
* ``preparation`` — every check, minimisation and packing of one file for each recipient
* ``results`` — result files, the quarantine folder and the register lines staff see
* ``antivirus`` — the clamd client (C-12)
* ``sealed_quarantine`` — refused drops sealed at rest, with their reason
* ``quarantine_decisions`` — staff release, discard or take out a quarantined drop
"""
