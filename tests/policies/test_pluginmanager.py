from __future__ import annotations

import inspect
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from policies import hookspecs
from policies.hookspecs import hookimpl
from policies.pluginmanager import PluginConfig, PluginError, ProgramConfig, ProgramHooks, build_plugin_manager
from policies.plugins import aircon_josei, seikatsu_hogo_tsuika

EXAMPLE = Path(__file__).parents[1] / "example_plugin"
BUILTINS = ("seikatsu_hogo_tsuika", "kaigo_hokenryo", "aircon_josei")


def _plugin(**attributes: object) -> ModuleType:
    module = ModuleType("probe")
    vars(module).update(attributes)
    return module


def _specs() -> list[tuple[str, object]]:
    return [
        (name, func)
        for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(func, f"{hookspecs.PROJECT}_spec")
    ]


def test_every_hook_documents_its_arguments_and_result() -> None:
    specs = dict(_specs())
    assert set(specs) == {
        "validate_records",
        "derive_columns",
        "describe_package",
        "default_items",
        "dummy_records",
        "check_returned_records",
    }
    module_doc = hookspecs.__doc__ or ""
    for name, func in specs.items():
        doc = inspect.getdoc(func)
        assert doc, f"hook {name} has no docstring"
        assert re.search(r"\b(Return|return)", doc), f"hook {name} does not say what it returns"
        assert "Called" in doc, f"hook {name} does not say when it is called"
        assert callable(func)
        for argument in inspect.signature(func).parameters:
            # program and settings are common to every hook and documented once for the module.
            where = module_doc if argument in ("program", "settings") else doc
            assert f"``{argument}``" in where, f"hook {name} does not document argument {argument}"


def _wrappers(spec: str) -> set[str]:
    """The ProgramHooks methods through which the hub reaches hook ``spec`` (directly or via another method)."""
    methods = {
        name: inspect.getsource(method)
        for name, method in inspect.getmembers(ProgramHooks, inspect.isfunction)
        if not name.startswith("_")
    }
    reach = {name for name, source in methods.items() if f'_hook["{spec}"]' in source}
    while grown := {n for n, source in methods.items() if any(f"self.{m}(" in source for m in reach)} - reach:
        reach |= grown
    return reach


def test_every_hook_is_called_by_the_hub() -> None:
    """A hook only tests call is a promise to plugin authors the hub does not keep (datasette's rule)."""
    root = Path(__file__).parents[2]
    skip = {root / "policies" / "hookspecs.py", root / "policies" / "pluginmanager.py"}
    sources = [
        path.read_text(encoding="utf-8")
        for package in ("exchange", "policies", "ledger", "connectors")
        for path in (root / package).rglob("*.py")
        if path not in skip and "plugins" not in path.relative_to(root).parts
    ]
    for spec, _func in _specs():
        wrappers = _wrappers(spec)
        assert wrappers, f"ProgramHooks offers no way to call hook {spec}"
        used = rf"\bhooks\.({'|'.join(wrappers)})\b|\.for_program\([^)]*\)\.({'|'.join(wrappers)})\("
        assert any(re.search(used, text) for text in sources), f"hook {spec} is not called in the hub's flow"


@pytest.fixture
def example_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the example package discoverable exactly as an installed distribution is: a ``.dist-info`` holding
    the entry points its own pyproject.toml declares, on sys.path beside the package. pip is not used because
    building a wheel offline needs the ``wheel`` package, which the test environment does not promise."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dist_info = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir()
    metadata = f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    (dist_info / "METADATA").write_text(metadata, encoding="utf-8")
    entry_points = "".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items())
        for group, entries in project["entry-points"].items()
    )
    (dist_info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield
    sys.modules.pop("handover_example_plugin", None)


def test_builtins_register_through_the_hooks() -> None:
    plugins = build_plugin_manager(PluginConfig(entry_points=False))
    assert plugins.names() == BUILTINS
    hooks = plugins.for_program("aircon-josei")
    assert hooks.default_items("subcontractor") is not None
    assert hooks.default_items("subcontractor") == aircon_josei.SUBCONTRACTOR_ITEMS  # only the plugin of the program


@pytest.mark.usefixtures("example_installed")
def test_third_party_plugin_is_discovered_and_runs_only_for_its_program() -> None:
    config = PluginConfig(programs={"example-program": ProgramConfig(settings={"extra_item": "電話番号"})})
    plugins = build_plugin_manager(config)
    assert "example" in plugins.names()
    assert plugins.for_program("example-program").default_items("contractor") == ("氏名", "住所", "電話番号")
    assert plugins.for_program("example-program").default_items("subcontractor") is None
    s1 = plugins.for_program("seikatsu-hogo-tsuika")
    assert s1.default_items("contractor") == seikatsu_hogo_tsuika.CONTRACTOR_ITEMS  # the example plugin stays out
    assert s1.default_items("contractor") is not None
    assert "電話番号" not in (s1.default_items("contractor") or ())
    assert plugins.for_program("unknown-program").default_items("contractor") is None


@pytest.mark.usefixtures("example_installed")
@pytest.mark.parametrize(
    "config",
    [
        PluginConfig(allow=frozenset({"other"})),
        PluginConfig(exclude=frozenset({"example"})),
        PluginConfig(entry_points=False),
    ],
    ids=["not-allowed", "excluded", "discovery-off"],
)
def test_allow_list_and_exclusion_keep_a_plugin_out(config: PluginConfig) -> None:
    sys.modules.pop("handover_example_plugin", None)
    plugins = build_plugin_manager(config)
    assert "example" not in plugins.names()
    assert "handover_example_plugin" not in sys.modules
    assert plugins.for_program("example-program").default_items("contractor") is None


@pytest.mark.usefixtures("example_installed")
def test_allow_listed_plugin_loads() -> None:
    assert "example" in build_plugin_manager(PluginConfig(allow=frozenset({"example"}))).names()


def test_builtin_can_be_excluded_and_programs_narrowed() -> None:
    plugins = build_plugin_manager(PluginConfig(entry_points=False, exclude=frozenset({"kaigo_hokenryo"})))
    assert "kaigo_hokenryo" not in plugins.names()
    narrowed = build_plugin_manager(
        PluginConfig(entry_points=False, programs={"aircon-josei": ProgramConfig(plugins=frozenset())})
    )
    assert narrowed.for_program("aircon-josei").default_items("contractor") is None


def test_program_enabling_an_unknown_plugin_is_an_error() -> None:
    config = PluginConfig(entry_points=False, programs={"aircon-josei": ProgramConfig(plugins=frozenset({"typo"}))})
    with pytest.raises(PluginError, match="typo"):
        build_plugin_manager(config).for_program("aircon-josei")


def test_settings_reach_the_hooks_read_only() -> None:
    seen: list[object] = []

    @hookimpl
    def default_items(settings: dict[str, object]) -> None:
        seen.append(settings)

    plugins = build_plugin_manager(PluginConfig(entry_points=False, programs={"p": ProgramConfig(settings={"a": 1})}))
    plugins.register("probe", _plugin(PROGRAMS={"p"}, default_items=default_items))
    plugins.for_program("p").default_items("contractor")
    plugins.for_program("q").default_items("contractor")
    assert len(seen) == 1
    assert dict(seen[0]) == {"a": 1}  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        seen[0]["a"] = 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (_plugin(), "must declare PROGRAMS"),
        (_plugin(PROGRAMS=["p"]), "must declare PROGRAMS"),
        (_plugin(PROGRAMS={"p"}, default_items=hookimpl(lambda colour: None)), "cannot be registered"),
    ],
)
def test_bad_plugins_are_rejected(plugin: object, message: str) -> None:
    plugins = build_plugin_manager(PluginConfig(entry_points=False))
    with pytest.raises(PluginError, match=message):
        plugins.register("bad", plugin)


def test_unknown_hook_is_rejected_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _plugin(PROGRAMS=frozenset({"p"}), validate_recrods=hookimpl(lambda: []))
    monkeypatch.setattr("policies.pluginmanager.BUILTIN_PLUGINS", ("fake.module",))
    monkeypatch.setattr("policies.pluginmanager.importlib.import_module", lambda name: module)
    with pytest.raises(PluginError, match="validate_recrods"):
        build_plugin_manager(PluginConfig(entry_points=False))
