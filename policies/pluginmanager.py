"""Builds the plugin manager: built-in benefit plugins plus third-party ones found by entry point.

Built-ins register through the same hooks as third-party plugins (as datasette does with its defaults).
Third-party plugins are entry points in the group ``handover.plugins``; the configuration can limit them to an
allow-list and exclude any plugin by name (an excluded entry point is not even imported).

Program enablement: each plugin declares the program codes it serves in a ``PROGRAMS`` attribute (a set of
strings on the module or object). We chose an attribute over a hook because the manager must know it before
calling anything, per plugin, and a plain attribute is checked at registration. A program's configuration may
further narrow the plugins it uses; its ``settings`` are passed to every hook called for it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import pluggy

from policies import hookspecs
from policies.hookspecs import Derivation, DummyTable, PackageDescription, Record, RecordProblem
from policies.tabular import open_table

ENTRY_POINT_GROUP = "handover.plugins"
BUILTIN_PLUGINS = (
    "policies.plugins.seikatsu_hogo_tsuika",
    "policies.plugins.kaigo_hokenryo",
    "policies.plugins.aircon_josei",
)


class PluginError(Exception):
    """A plugin or the plugin configuration is unusable (raised at start-up, not per file)."""


@dataclass(frozen=True)
class ProgramConfig:
    """Per-program plugin configuration: which plugins (None: all that serve it) and their settings."""

    plugins: frozenset[str] | None = None
    settings: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginConfig:
    """``allow`` limits third-party entry points (None: all installed); ``exclude`` names plugins, built-in
    or not, never to load; ``entry_points`` False skips discovery (tests, locked-down installs)."""

    allow: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    entry_points: bool = True
    programs: Mapping[str, ProgramConfig] = field(default_factory=dict)


def _declared_programs(name: str, plugin: object) -> frozenset[str]:
    programs = getattr(plugin, "PROGRAMS", None)
    if not isinstance(programs, set | frozenset) or not all(isinstance(p, str) for p in programs):
        raise PluginError(f"plugin {name!r} must declare PROGRAMS, a set of program codes")
    return frozenset(programs)


class HandoverPlugins:
    """The registered plugins and the programs they serve; hand out per-program hook callers."""

    def __init__(self, config: PluginConfig) -> None:
        self.config = config
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._programs: dict[str, frozenset[str]] = {}

    def register(self, name: str, plugin: object) -> None:
        """Register ``plugin`` under ``name`` after checking its ``PROGRAMS`` declaration."""
        programs = _declared_programs(name, plugin)
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from exc
        self._programs[name] = programs

    def names(self) -> tuple[str, ...]:
        return tuple(self._programs)

    def for_program(self, program: str) -> ProgramHooks:
        """Hook callers limited to the plugins that serve ``program`` and are enabled for it."""
        program_config = self.config.programs.get(program, ProgramConfig())
        wanted = program_config.plugins
        if wanted is not None and not wanted <= self._programs.keys():
            unknown = ", ".join(sorted(wanted - self._programs.keys()))
            raise PluginError(f"program {program!r} enables unknown plugins: {unknown}")
        enabled = [
            name
            for name, programs in self._programs.items()
            if program in programs and (wanted is None or name in wanted)
        ]
        return ProgramHooks(self, program, tuple(enabled), MappingProxyType(dict(program_config.settings)))


class ProgramHooks:
    """The hooks of one program, called only on its enabled plugins with its settings."""

    def __init__(
        self, plugins: HandoverPlugins, program: str, enabled: tuple[str, ...], settings: Mapping[str, object]
    ) -> None:
        self.program = program
        self.settings = settings
        pm = plugins.pm
        others = [pm.get_plugin(name) for name in plugins.names() if name not in enabled]
        self._hook = {
            spec: pm.subset_hook_caller(spec, remove_plugins=others)
            for spec in (
                "validate_records",
                "derive_columns",
                "describe_package",
                "default_items",
                "dummy_records",
                "check_returned_records",
            )
        }

    def validate_records(
        self,
        columns: tuple[str, ...],
        records: Sequence[Record],
        first_record: int,
        context: MutableMapping[str, object],
    ) -> list[RecordProblem]:
        results: list[list[RecordProblem]] = self._hook["validate_records"](
            program=self.program,
            settings=self.settings,
            columns=columns,
            records=records,
            first_record=first_record,
            context=context,
        )
        return [problem for problems in results for problem in problems]

    def validate_file(self, path: Path, *, batch_size: int = 1000, limit: int = 1000) -> list[RecordProblem]:
        """Stream ``path`` through ``validate_records`` in batches; stop collecting after ``limit`` problems."""
        problems: list[RecordProblem] = []
        context: dict[str, object] = {}
        with open_table(path) as table:
            batch: list[Record] = []
            first = 1
            for row in table:
                batch.append(dict(zip(table.header, row, strict=False)))
                if len(batch) == batch_size:
                    problems += self.validate_records(table.header, batch, first, context)
                    first += len(batch)
                    batch = []
                if len(problems) >= limit:
                    return problems[:limit]
            if batch:
                problems += self.validate_records(table.header, batch, first, context)
        return problems[:limit]

    def derive_columns(self, columns: tuple[str, ...]) -> list[Derivation]:
        results: list[Derivation] = self._hook["derive_columns"](
            program=self.program, settings=self.settings, columns=columns
        )
        return results

    def describe_package(self, table_path: Path, records: int) -> list[PackageDescription]:
        results: list[PackageDescription] = self._hook["describe_package"](
            program=self.program, settings=self.settings, table_path=table_path, records=records
        )
        return results

    def default_items(self, role: str) -> tuple[str, ...] | None:
        result: tuple[str, ...] | None = self._hook["default_items"](
            program=self.program, settings=self.settings, role=role
        )
        return result

    def dummy_records(self, rows: int, seed: int = 0) -> DummyTable | None:
        result: DummyTable | None = self._hook["dummy_records"](
            program=self.program, settings=self.settings, rows=rows, seed=seed
        )
        return result

    def check_returned_records(
        self, kind: str, columns: tuple[str, ...], records: Sequence[Record], reference: Sequence[Record] | None
    ) -> list[RecordProblem]:
        results: list[list[RecordProblem]] = self._hook["check_returned_records"](
            program=self.program,
            settings=self.settings,
            kind=kind,
            columns=columns,
            records=records,
            reference=reference,
        )
        return [problem for problems in results for problem in problems]


def build_plugin_manager(config: PluginConfig | None = None) -> HandoverPlugins:
    """Register the built-ins and the allowed third-party plugins, then check every hook implementation."""
    config = config or PluginConfig()
    plugins = HandoverPlugins(config)
    for module_name in BUILTIN_PLUGINS:
        name = module_name.rsplit(".", 1)[1]
        if name not in config.exclude:
            plugins.register(name, importlib.import_module(module_name))
    if config.entry_points:
        for entry_point in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if entry_point.name in config.exclude:
                continue
            if config.allow is not None and entry_point.name not in config.allow:
                continue
            plugins.register(entry_point.name, entry_point.load())
    try:
        plugins.pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    return plugins
