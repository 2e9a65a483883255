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

# --- Wired by a named open issue --------------------------------------------------------------------------------

_.data_channels  # issue 12 wires: data and password channels in one vocabulary, so the same-channel check fires

_.ingest  # issue 14 wires: print-log intake, findings and reasons (exchange/oversight/print_logs.py)
_.give_reason
_.open_findings
_.read_print_log  # issue 14 wires: one print-log parser (merges the S2 plugin's into print_logs)
_.compare_print_log
_.PRINT_DELIVERED  # issue 14 wires: sealed-notice deliveries recorded by the printer
_.record_result  # issue 14 wires: inspection results in the portal and CLI
_.record_report  # issue 14 wires: incident report filings (速報, 確報)
_.derive_columns  # issue 14 wires: the plugin hooks called in the flow
_.default_items
_.collected_items  # issue 14 wires: uploads checked against the items a contractor may collect
_.COLLECTED_ITEMS
_.sensitive_items_approval_ref  # issue 14 wires: sensitive-item approvals, per-route screening policies
_.screening_hits
_.read_extract  # issue 14 wires: S1's application-type check on the data the contractor returns
_.check_application

_.rewrap  # issue 15 wires: key rotation (handover keys rotate)
_.key_ids

_.Appender  # issue 16 wires: group commit for the pipeline, portal and duties
_.aclose
