"""requirements.lock pins every dependency pyproject.toml and requirements.in declare, at a version the
declaration allows: a dependency added without `make lock` fails here, not on someone's fresh machine."""

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = [line for line in (ROOT / "requirements.in").read_text().splitlines() if line and line[0] != "#"]
    extras = project["optional-dependencies"]
    return project["dependencies"] + extras["dev"] + extras["team"] + extra


def _pins() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = dict(line.split()[0].split("==") for line in lines if line[:1].isalnum())
    return {canonicalize_name(name): version for name, version in pins.items()}


@pytest.mark.parametrize("spec", _declared())
def test_lock_pins_what_is_declared(spec):
    requirement, pins = Requirement(spec), _pins()
    pinned = pins.get(canonicalize_name(requirement.name))
    assert pinned is not None, f"{requirement.name} is not in requirements.lock: run `make lock`"
    assert requirement.specifier.contains(pinned, prereleases=True), f"{spec} but the lock has {pinned}: `make lock`"


def test_lock_has_hashes_and_the_cpu_torch():
    text = (ROOT / "requirements.lock").read_text()
    assert all(line.endswith("\\") for line in text.splitlines() if line[:1].isalnum())  # each pin has its hashes
    assert _pins()["torch"].endswith("+cpu")
