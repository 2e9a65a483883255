"""Policies: the rules about contracts, data items and passwords, and the tabular files they read; never the hub.

* ``rules`` — contract period and purpose, sub-contract chain, jurisdiction (C-20, C-06, C-14)
* ``screening`` — categories a contractor must not collect (C-07)
* ``minimise`` — a tabular file projected to the items one recipient may receive (C-07)
* ``split_password`` — data and its password on separate occasions (C-02)
* ``channels`` — one typed vocabulary for data channels and password channels (C-02)
* ``tabular`` — streaming CSV and XLSX readers and writers
* ``errors`` — the one refusal every policy raises
* ``hookspecs`` — the hooks benefit plugins implement; ``pluginmanager`` loads them
* ``plugins`` — the built-in benefit plugins, one per program
* ``dummy``, ``dummy_people`` — dummy data files and synthetic people (C-15)
* ``jp`` — Japanese-text helpers: name normalisation, 和暦 with 西暦
"""
