"""The library's import graph, read with `ast` at every depth (imports inside functions too), has no cycle;
`config` reaches nothing but itself and `errors`; demo-only code (`sim`) is never imported at module level
outside `sim`; tests mirror the library's packages."""

import ast
from pathlib import Path

from radimpress.stages.codegraph import find_cycles, import_graph, imports_of, library_modules, reachable

TESTS = Path(__file__).parent


def test_the_library_has_no_import_cycle():
    cycles = find_cycles(import_graph())
    print(f"{len(import_graph())} modules, {sum(map(len, import_graph().values()))} imports, cycles: {cycles}")
    assert cycles == []


def test_the_cycle_finder_finds_cycles_at_any_length():
    graph = {
        "a": frozenset({"b"}),
        "b": frozenset({"c"}),
        "c": frozenset({"a"}),
        "d": frozenset({"d"}),
        "e": frozenset(),
    }
    assert find_cycles(graph) == [["a", "b", "c"], ["d"]]


def test_imports_inside_functions_count():
    source = "def later():\n    from radimpress.sim import synthetic\n    import radimpress.files\n"
    modules = {"radimpress.sim": Path(), "radimpress.sim.synthetic": Path(), "radimpress.files": Path()}
    assert imports_of(source, modules) == {"radimpress.sim", "radimpress.sim.synthetic", "radimpress.files"}


def test_config_depends_on_nothing_but_errors():
    reached = {m for m in reachable("radimpress.config.schema") if not m.startswith("radimpress.config")}
    assert reached <= {"radimpress", "radimpress.errors"}


def test_demo_code_is_not_imported_at_module_level_outside_sim():
    offenders = []
    for name, path in library_modules().items():
        if name.startswith("radimpress.sim"):
            continue
        for node in ast.parse(path.read_text()).body:  # module level only: a lazy import inside a branch is fine
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("radimpress.sim"):
                offenders.append(f"{name}: from {node.module}")
    assert offenders == []


def test_tests_mirror_the_library_packages():
    packages = {name.split(".")[1] for name in library_modules() if name.count(".") >= 2}
    assert packages - {p.name for p in TESTS.iterdir() if p.is_dir()} == set()
