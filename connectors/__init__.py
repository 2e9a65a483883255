"""Delivery endpoints: one module per kind behind one interface; no database, no hub.

* ``base`` — the interface every endpoint implements, stored objects, jurisdiction, connector errors
* ``options`` — the options model every kind extends (kind, jurisdiction), secret references
* ``registry`` — the union of every kind's options (keyed on ``kind``); connectors built from it, endpoints outside
  Japan refused (C-14)
* ``checks`` — reachability, authentication and jurisdiction of each endpoint
* ``local`` — a local or mounted outbox folder (each kind's module holds its options model and its connector)
* ``box`` — Box (over LGWAN), through Box's own SDK; ``box_answers`` reads what Box returns or raises
* ``sftp`` — LGWAN-ASP file services and other SSH endpoints
* ``media`` — the DVD fallback: staged per medium, sealed into an ISO image (C-21)
* ``media_label`` — the printable DVD label
* ``s3`` — S3 buckets in Tokyo or Osaka (or an S3-compatible store); jurisdiction from the region
* ``s3_objects`` — S3 at a low level (client, streaming multipart upload, verified deletion of every version), shared
  with the hub's S3 blob store
"""
