"""``python -m exchange`` runs the ``handover`` command."""

from exchange.cli import main

main()
