"""Scheduled duties: what runs by itself, and how it tells people.

* ``scheduler`` — every periodic duty, its timetable and the lease that lets several hub processes share them
* ``notices`` — reminders and escalations in the portal inbox, with optional e-mail
* ``mail`` — the SMTP sender
* ``credential_rotation`` — reminders to rotate login details received from providers (LGWAN-ASP, C-22)
"""
