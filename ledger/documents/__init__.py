"""Printed documents: the fonts and layout every PDF shares, and the duties' own PDFs.

* ``fonts`` — embedded Japanese fonts and the A4 letter layout of notices and invitations
* ``duty_pdfs`` — the hub's deletion certificate, the incident report and other duty PDFs
"""
