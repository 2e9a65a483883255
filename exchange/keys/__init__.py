"""Keys: the master key and what it protects.

* ``sealing`` — envelope encryption of secrets at rest (package passwords, TOTP secrets)
* ``sealed_files`` — streaming envelope encryption of files at rest in the blob store (uploads, quarantined drops,
  reference extracts, inspection attachments)
* ``sources`` — where the keys come from (``[keys]``: a file or an environment variable)
* ``rotation`` — which master key seals each secret in the database, and moving them to the current key
"""
