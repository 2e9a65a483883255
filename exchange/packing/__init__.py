"""Packing: one encrypted ZIP per recipient.

* ``packer`` — the package: sources and a ``manifest.json`` in an AES-256 ZIP
* ``zipaes`` — the parallel streaming WinZip-AES writer that 7-Zip reads
* ``streamed`` — the same ZIP packed from a stream (a sealed upload), its plain text never on disk
* ``proof`` — the written ZIP read back (HMAC, decrypt, inflate, hash, count) and compared with the record
"""
