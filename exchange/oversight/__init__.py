"""Oversight: how the ward watches its contractors and its own hub.

* ``incidents`` — incidents: freeze at once and take out of reach at the endpoints, PPC filings and deadlines (C-18)
* ``incident_records`` — an incident's instructions and answers, unfreezing, closing, counts, report PDF (C-18)
* ``inspections`` — yearly inspections of contractors and sub-contractors, and their recorded results (C-19)
* ``attachments`` — an inspection's report file, sealed at rest (C-19)
* ``access_log_analysis`` — findings from the audit log and their review (C-11)
* ``print_logs`` — printers' logs matched to the data delivered, reprints found (C-17)
* ``printed_notices`` — sealed notices delivered by the printer and confirmed, paper hand-overs (C-03)
"""
