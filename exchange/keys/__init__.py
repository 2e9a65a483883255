"""Keys: the master key and what it protects.

* ``sealing`` — envelope encryption of secrets at rest (package passwords, TOTP secrets)
"""
