"""Packing: one encrypted ZIP per recipient.

* ``packer`` — the package: sources and a ``manifest.json`` in an AES-256 ZIP
* ``zipaes`` — the parallel streaming WinZip-AES writer that 7-Zip reads
"""
