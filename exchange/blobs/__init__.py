"""Blobs: every byte the hub keeps, behind one interface, in a local folder or S3-compatible object storage.

* ``store`` — the interface (``BlobStore``), its errors and the key rules
* ``local`` — the local-folder backend (embedded default)
* ``s3`` — the S3 backend (AWS S3 or an S3-compatible store), over ``connectors.s3_objects``
* ``registry`` — the store the settings name, built once at start
"""
