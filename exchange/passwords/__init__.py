"""Passwords: each package's password, and its separate way to the recipient (C-02).

* ``generate`` — per-package ZIP passwords
* ``release`` — releasing a password under the split-password rule, on one of its channels
* ``printed_notice`` — the printed password notice (パスワード通知書)
* ``email_channel`` — the password alone to the person's separate password address
"""
