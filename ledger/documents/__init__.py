"""Printed documents: the fonts and layout every PDF shares, and the duties' own PDFs.

* ``fonts`` — embedded Japanese fonts and the A4 page every letter is built on
* ``letters`` — the one letter layout of printed notices and invitation letters (date, addressee, secret, steps)
* ``duty_pdfs`` — the hub's deletion certificate, the incident report and other duty PDFs
"""
