"""The hooks benefit plugins implement (pluggy project ``handover``), all in this one module.

A plugin is a module (or object) with a ``PROGRAMS`` attribute, the set of program codes it serves, and
functions decorated with :data:`hookimpl` named like the specs below. The hub only calls a plugin for the
programs it declares and the configuration enables (see :mod:`policies.pluginmanager`). Every hook receives
``program`` (the program code it is called for) and ``settings`` (that program's settings from the hub's
configuration, the same mapping for every plugin of the program); a plugin may omit arguments it does not use.

Records are mappings from canonical item names (column headers) to cell text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pluggy

PROJECT = "handover"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Record = Mapping[str, str]
Settings = Mapping[str, object]


@dataclass(frozen=True)
class RecordProblem:
    """A problem in data record ``record`` (1-based, header excluded), in ``column`` if one is to blame."""

    record: int
    column: str | None
    message: str


@dataclass(frozen=True)
class Derivation:
    """Computed ``columns`` appended to each record; ``compute`` returns their values for one record, or raises
    ValueError with a Japanese message when the record's cells do not allow it (the hub refuses the file)."""

    columns: tuple[str, ...]
    compute: Callable[[Record], Sequence[str]]


@dataclass(frozen=True)
class Quantity:
    """One quantity for the handover register: ``kind`` (``records``, ``households``, ``notices``, …), its
    Japanese ``label`` and ``count``."""

    kind: str
    label: str
    count: int


@dataclass(frozen=True)
class PackageDescription:
    """The register's content description (内容, Japanese) and quantities (数量) of a package."""

    content: str
    quantities: tuple[Quantity, ...]


@dataclass(frozen=True)
class DummyTable:
    """Dummy data: canonical ``columns`` and an iterator of ``rows`` (cell text in column order)."""

    columns: tuple[str, ...]
    rows: Iterator[Sequence[str]]


@hookspec
def validate_records(
    program: str,
    settings: Settings,
    columns: tuple[str, ...],
    records: Sequence[Record],
    first_record: int,
    context: MutableMapping[str, object],
) -> list[RecordProblem]:
    """Check a batch of records of a program's file before it is packed.

    Called once per batch while the hub streams the file. ``columns`` is the file's header, ``records`` the
    batch and ``first_record`` the 1-based number of its first record. ``context`` is a scratch mapping that
    is the same object for every batch of one file, so a plugin can carry state across batches (e.g. seen
    household keys); key it by your plugin's name. Return the problems found (empty list when none); any
    problem sends the file to quarantine.
    """
    raise NotImplementedError


@hookspec
def derive_columns(program: str, settings: Settings, columns: tuple[str, ...]) -> Derivation | None:
    """Offer computed columns (e.g. S4's 交付額 from the cost columns) for a file with header ``columns``.

    Called by minimisation, once per recipient of a dropped file, with the source header in canonical item
    names, before the file is streamed and packed. Return a :class:`Derivation` when the header has what the
    computation needs, else None. The hub computes a derived column from the whole source record and hands it
    over only when the recipient's contract allows that item; the columns it was computed from go only where
    they are allowed too. Plugin validation then sees the derived values.
    """
    raise NotImplementedError


@hookspec
def describe_package(program: str, settings: Settings, table_path: Path, records: int) -> PackageDescription | None:
    """Describe a package for the handover register (content and quantities such as households, notices).

    Called once per package after minimisation with ``table_path``, the minimised tabular file the package
    carries (stream it with :func:`policies.tabular.open_table` when counting needs the rows), and
    ``records``, its data record count. Return None when the plugin has nothing to add.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def default_items(program: str, settings: Settings, role: str) -> tuple[str, ...] | None:
    """Default item list (canonical names, in output order) a recipient of ``role`` receives.

    Called by ``handover admin import`` for a contract without ``allowed_items``; the answer becomes the
    contract's item list, and the import reports it. ``role`` is the recipient party's kind
    (``contractor`` or ``subcontractor``). Return None when the plugin has no default for the role; the
    first non-None answer wins.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def dummy_records(program: str, settings: Settings, rows: int, seed: int) -> DummyTable | None:
    """Produce ``rows`` dummy records (synthetic people only, C-15) shaped like the program's extract.

    Called by ``handover dummy`` and demo mode. ``seed`` makes the output reproducible. Return None when the
    plugin cannot produce data for the program; the first non-None answer wins.
    """
    raise NotImplementedError


@hookspec
def check_returned_records(
    program: str,
    settings: Settings,
    kind: str,
    columns: tuple[str, ...],
    records: Sequence[Record],
    reference: Sequence[Record] | None,
) -> list[RecordProblem]:
    """Check records a contractor sent back (an upload on the portal) against the ward's reference data.

    Called once per tabular upload that passed the contract's checks, with the upload ``kind`` (``entered_data``
    for entered application data), its header ``columns`` and all its ``records`` (returned data is small).
    ``reference`` is the table the ward registered for the contract with ``handover reference load`` (S1: the
    welfare-system extract), as records, or None when none is registered; the hub never rebuilds it from
    delivered packages, which carry only the contractor's minimised items. The same hook validates a reference
    when it is loaded: then ``records`` is empty, and a reference the plugin cannot use raises
    :class:`policies.errors.PolicyRefusal`.

    Return the problems found (empty when none). They do not quarantine the upload: they are shown to the
    contractor and to staff and recorded with the upload, for the ward to act on (e.g. an application with no
    matching assistance record). Return an empty list for kinds or columns the plugin does not check.
    """
    raise NotImplementedError
