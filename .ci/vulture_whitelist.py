"""Names vulture reports as unused that are used after all, for `vulture` in .ci/run (configured in pyproject.toml).

Only two kinds of entry belong here: names a framework or library uses without our code naming them again, and
items a named open issue will wire, each with that issue, which removes its line when it wires them. Anything
else vulture reports is dead: delete it. Click commands and pydantic validators need no lines here: the
``ignore_decorators`` setting covers every ``@….command`` and ``@model_validator``.

vulture matches by name, so one line covers every definition of that name; ``_`` stands for any object.
"""

from types import SimpleNamespace

_ = SimpleNamespace()

# --- Frameworks and libraries ---------------------------------------------------------------------------------

_.model_config  # pydantic reads it when the model class is built
_.settings_customise_sources  # pydantic-settings calls it, by these keyword names:
_.settings_cls
_.dotenv_settings
_.file_secret_settings

_.impl  # SQLAlchemy TypeDecorator (ledger.models.base.UTCDateTime)
_.cache_ok
_.process_bind_param
_.process_result_value
_.type_annotation_map  # SQLAlchemy DeclarativeBase

_.autogen_context  # alembic passes it to render_item (ledger/migrations/env.py)
_.tb  # the context-manager protocol passes it to __exit__
_.readable  # io.RawIOBase protocol: io.BufferedReader calls them (exchange.packing.proof._Member)
_.seekable
_.tell
_.readinto

_.alignment  # openpyxl writes these worksheet and cell settings into the XLSX file (ledger/reports/xlsx.py)
_.freeze_panes
_.orientation
_.paperSize
_.print_title_rows

_.BoxConnector  # connectors.registry.connector_class finds a kind's class among its module's attributes
_.SftpConnector

# ORM columns that user paths write as a record of what happened; a person reads them in the database or, for
# uploaded_at, submitted_at and designated_at, in templates vulture does not read.
_.designated_at
_.last_started_at
_.last_finished_at
_.last_result
_.started_at
_.finished_at
_.emailed_to
_.email_error
_.confirmed_at
_.issued_by
_.last_used_at
_.stored_path
_.uploaded_at
_.submitted_at
_.event_ids
_.route_target_id
_.validation_comment
_.print_log_id  # also the foreign key of PrintLogRow and PrintFinding, set through relationships

_.load_bytecode  # jinja2.BytecodeCache: Jinja calls these on the portal's shared template cache
_.dump_bytecode

# --- Wired by a named open issue --------------------------------------------------------------------------------


_.put_file  # issue 15 wires: packages, uploads and media stored through the blob store (the other parts of 15)
_.fetch_to
_.blob_key
