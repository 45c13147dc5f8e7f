"""Every config in examples/ stays valid: the README points people at them."""
import pathlib

import pytest

from conftest import ROOT, run_cli

# A config of its own, or the sluice.yaml of an example with more files.
EXAMPLES = sorted([p for p in (ROOT / "examples").iterdir()
                   if p.suffix in (".yaml", ".yml", ".json")] +
                  list((ROOT / "examples").glob("*/sluice.yaml")))


def test_there_are_examples():
    assert EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES,
                         ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_example_validates(path: pathlib.Path):
    # Examples for Datadog read the key from the environment, as Vector does.
    r = run_cli("validate", "--no-environment", "-c", str(path),
                env={"DD_API_KEY": "example-key"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Validated" in r.stdout
