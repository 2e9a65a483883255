"""Oversight: how the ward watches its contractors and its own hub.

* ``incidents`` — incidents: freeze at once, report deadlines, report PDF (C-18)
* ``inspections`` — yearly inspections of contractors and sub-contractors (C-19)
* ``access_log_analysis`` — findings from the audit log and their review (C-11)
* ``print_logs`` — printers' logs matched to the data delivered, reprints found (C-17)
"""
