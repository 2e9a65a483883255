"""Registers: the ward's paper ledgers as tamper-evident log entries, each written with its business change.

* ``handover`` — the handover register (管理簿・確認記録票): every hand-over step, through one function
* ``media`` — the media register (C-21): DVDs sealed, handed over and returned
* ``handlers`` — who may give or take a hand-over: designated people and the owning section's staff (C-05)
"""
