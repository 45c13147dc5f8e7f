"""`sluice validate`: a valid config passes with ✓ lines and exit 0; every
kind of mistake an operator makes is refused with exit 78 (EX_CONFIG) and a
message that names the file, the line and the component, so it can be fixed
without guessing. `run` refuses the same configs the same way."""
import os
import pathlib
import subprocess
import textwrap

import pytest

from conftest import run_cli, sluice_path

EX_CONFIG = 78


def write(tmp_path, name, text):
    """Writes a config (dedented) and returns its path as a string."""
    path = pathlib.Path(tmp_path) / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return str(path)


def line_of(path, needle):
    """1-based number of the first line of the file containing needle: tests
    name the line of the mistake instead of hard-coding numbers."""
    for number, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def validate(*args, env=None):
    return run_cli("validate", *args, env=env)


def output(result):
    return result.stdout + result.stderr


def assert_problem(result, mark, message):
    """Exit 78 (for errors) and `mark message` as a whole line of the output,
    where message reads `FILE:LINE: COMPONENT: text`."""
    if mark == "✗":
        assert result.returncode == EX_CONFIG, output(result)
    lines = output(result).splitlines()
    assert f"{mark} {message}" in lines, f"{mark} {message!r} not in:\n{output(result)}"


VALID = """
    sources:
      in:
        type: demo_logs
        format: json
        count: 10
    transforms:
      pass:
        type: noop
        inputs: [in]
    sinks:
      out:
        type: console
        inputs: [pass]
        encoding:
          codec: json
    """


def test_valid_config_passes_with_checkmarks(tmp_path):
    path = write(tmp_path, "ok.yaml", VALID)
    r = validate("-c", path)
    assert r.returncode == 0, output(r)
    assert "✓" in r.stdout
    assert "✗" not in output(r)


def test_valid_json_config_passes(tmp_path):
    path = write(tmp_path, "ok.json", """
        {
          "sources": {"in": {"type": "demo_logs", "format": "json", "count": 1}},
          "sinks": {"out": {"type": "console", "inputs": ["in"],
                            "encoding": {"codec": "json"}}}
        }
        """)
    r = validate("-c", path)
    assert r.returncode == 0, output(r)
    assert "✓" in r.stdout


def test_config_dir_is_loaded(tmp_path):
    """-C DIR takes every *.yaml / *.yml / *.json in it, merged."""
    d = pathlib.Path(tmp_path) / "conf.d"
    d.mkdir()
    write(d, "10-sources.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
        """)
    write(d, "20-sinks.yml", """
        sinks:
          out:
            type: blackhole
            inputs: [in]
        """)
    r = validate("-C", str(d))
    assert r.returncode == 0, output(r)


def test_no_config_validates_the_embedded_default(tmp_path):
    """Without -c/-C and without /etc/sluice/sluice.yaml the embedded default
    pipeline is used, and it must be valid on any machine."""
    if os.path.exists("/etc/sluice/sluice.yaml"):
        pytest.skip("/etc/sluice/sluice.yaml exists here; it would be used instead")
    env = dict(os.environ, HOME=str(tmp_path))
    r = subprocess.run([os.path.abspath(sluice_path()), "validate"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, output(r)
    assert "✓ Loaded the embedded default pipeline" in r.stdout.splitlines()


def test_warning_is_not_an_error(tmp_path):
    """A source nobody reads is a warning (~), as in Vector: still valid."""
    path = write(tmp_path, "warn.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
          spare:
            type: demo_logs
            format: json
        sinks:
          out:
            type: blackhole
            inputs: [in]
        """)
    r = validate("-c", path)
    assert r.returncode == 0, output(r)
    assert_problem(r, "~", f"{path}:{line_of(path, 'spare:') + 1}: sources.spare: "
                          "has no consumers: nothing reads its output")


# ---- syntax


def test_invalid_yaml(tmp_path):
    path = write(tmp_path, "bad.yaml", """
        sources:
          in:
            type: demo_logs
            format: [json
        sinks:
          out:
            type: blackhole
        """)
    r = validate("-c", path)
    # libyaml notices the unclosed flow sequence on the next line and names
    # the line where it started.
    start = line_of(path, "[json")
    assert_problem(r, "✗", f"{path}:{start + 1}: invalid YAML at column 6: did not find "
                           f"expected ',' or ']' (while parsing a flow sequence at line {start})")


def test_invalid_json(tmp_path):
    path = write(tmp_path, "bad.json", """
        {
          "sources": {
            "in": {"type": "demo_logs", "format": "json",}
          }
        }
        """)
    r = validate("-c", path)
    bad = line_of(path, '"json",}')
    assert_problem(r, "✗", f"{path}:{bad}: invalid JSON at column 50: "
                           "string or '}' expected near '}'")


# ---- components and options


def test_unknown_component_type_suggests_the_closest(tmp_path):
    path = write(tmp_path, "type.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
        sinks:
          out:
            type: consol
            inputs: [in]
        """)
    r = validate("-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, 'type: consol')}: sinks.out: "
                           'unknown sink type "consol" (did you mean "console"?)')


def test_unknown_option_suggests_the_closest(tmp_path):
    path = write(tmp_path, "option.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
        sinks:
          out:
            type: file
            inputs: [in]
            pth: /tmp/x.log
            encoding:
              codec: json
        """)
    r = validate("-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, 'pth:')}: sinks.out: "
                           'unknown option "pth" (did you mean "path"?)')


def test_wrong_option_type(tmp_path):
    path = write(tmp_path, "wrongtype.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
            count: lots
        sinks:
          out:
            type: blackhole
            inputs: [in]
        """)
    r = validate("-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, 'count: lots')}: sources.in: "
                           'option "count" must be an unsigned integer, got "lots"')


def test_missing_required_option(tmp_path):
    path = write(tmp_path, "required.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
        sinks:
          out:
            type: file
            inputs: [in]
            encoding:
              codec: json
        """)
    r = validate("-c", path)
    # Reported where the component's map starts (its first key).
    assert_problem(r, "✗", f"{path}:{line_of(path, 'out:') + 1}: sinks.out: "
                           'missing required option "path"')


def test_unknown_global_key(tmp_path):
    path = write(tmp_path, "global.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
        sinkz:
          out:
            type: blackhole
            inputs: [in]
        """)
    r = validate("-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, 'sinkz:')}: "
                           'unknown top-level key "sinkz" (did you mean "sinks"?)')


# ---- topology


def test_input_that_matches_nothing(tmp_path):
    path = write(tmp_path, "inputs.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
        sinks:
          out:
            type: blackhole
            inputs: [nope]
        """)
    r = validate("-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, 'out:') + 1}: sinks.out: "
                           'input "nope" doesn\'t match any source or transform')


def test_wildcard_that_matches_nothing(tmp_path):
    path = write(tmp_path, "wildcard.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
        sinks:
          out:
            type: blackhole
            inputs: ["app*"]
        """)
    r = validate("-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, 'out:') + 1}: sinks.out: "
                           'input "app*" matches no source or transform')


def test_cycle(tmp_path):
    path = write(tmp_path, "cycle.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
        transforms:
          a:
            type: noop
            inputs: [in, b]
          b:
            type: noop
            inputs: [a]
        sinks:
          out:
            type: blackhole
            inputs: [b]
        """)
    r = validate("-c", path)
    # Either member of the cycle may be the one named.
    assert r.returncode == EX_CONFIG, output(r)
    named = [f"✗ {path}:{line_of(path, f'  {t}:') + 1}: transforms.{t}: is part of a cycle: "
             "its output leads back to its input" for t in "ab"]
    assert set(named) & set(output(r).splitlines()), output(r)


def test_logs_into_a_metrics_only_sink(tmp_path):
    path = write(tmp_path, "logs_to_metrics.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
          meta:
            type: internal_metrics
        transforms:
          parsed:
            type: remap
            inputs: [in]
            source: '.x = 1'
        sinks:
          direct:
            type: datadog_metrics
            inputs: [in]
            default_api_key: "k"
          through_remap:
            type: datadog_metrics
            inputs: [parsed]
            default_api_key: "k"
          metrics:
            type: datadog_metrics
            inputs: [meta]
            default_api_key: "k"
        """)
    r = validate("--no-environment", "-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, '  direct:') + 1}: sinks.direct: "
                           'takes metrics, but its input "in" sends logs')
    assert_problem(r, "✗", f"{path}:{line_of(path, '  through_remap:') + 1}: "
                           'sinks.through_remap: takes metrics, but its input "parsed" sends logs')
    assert "sinks.metrics" not in output(r)


def test_run_refuses_an_invalid_config(tmp_path):
    path = write(tmp_path, "run.yaml", """
        sources:
          in:
            type: demo_logs
            format: json
        sinks:
          out:
            type: consol
            inputs: [in]
        """)
    r = run_cli("run", "-c", path, timeout=30)
    # run prints only the problems, on stderr.
    assert_problem(r, "✗", f"{path}:{line_of(path, 'type: consol')}: sinks.out: "
                           'unknown sink type "consol" (did you mean "console"?)')
    assert "consol" in r.stderr


def test_every_problem_is_reported_at_once(tmp_path):
    """validate does not stop at the first mistake."""
    path = write(tmp_path, "many.yaml", """
        sources:
          in:
            type: demo_logz
        sinks:
          out:
            type: blackhole
            inputs: [in]
            bogus: 1
        """)
    r = validate("-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, 'demo_logz')}: sources.in: "
                           'unknown source type "demo_logz" (did you mean "demo_logs"?)')
    assert_problem(r, "✗", f"{path}:{line_of(path, 'bogus')}: sinks.out: "
                           'unknown option "bogus"')


# ---- environment


def data_dir_config(tmp_path, data_dir):
    return write(tmp_path, "data_dir.yaml", f"""
        data_dir: {data_dir}
        sources:
          in:
            type: demo_logs
            format: json
        sinks:
          out:
            type: blackhole
            inputs: [in]
        """)


def test_unwritable_data_dir(tmp_path):
    path = data_dir_config(tmp_path, "/proc/sluice-x")
    r = validate("-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, 'data_dir:')}: data_dir \"/proc/sluice-x\" "
                           "does not exist and cannot be created: No such file or directory")


def test_data_dir_that_is_a_file(tmp_path):
    regular = pathlib.Path(tmp_path) / "not-a-dir"
    regular.write_text("x")
    path = data_dir_config(tmp_path, str(regular))
    r = validate("-c", path)
    assert_problem(r, "✗", f"{path}:{line_of(path, 'data_dir:')}: data_dir \"{regular}\" "
                           "is not a directory")


def test_run_refuses_an_unwritable_data_dir(tmp_path):
    """run checks the environment too (but runs no healthchecks)."""
    path = data_dir_config(tmp_path, "/proc/sluice-x")
    r = run_cli("run", "-c", path, timeout=30)
    assert r.returncode == EX_CONFIG, output(r)
    assert '"/proc/sluice-x"' in r.stderr


def test_no_environment_skips_the_data_dir_check(tmp_path):
    path = data_dir_config(tmp_path, "/proc/sluice-x")
    r = validate("--no-environment", "-c", path)
    assert r.returncode == 0, output(r)


def test_writable_data_dir_passes(tmp_path):
    data = pathlib.Path(tmp_path) / "data"
    data.mkdir()
    path = data_dir_config(tmp_path, str(data))
    r = validate("-c", path)
    assert r.returncode == 0, output(r)


def test_environment_interpolation(tmp_path):
    """${VAR} is interpolated in parsed scalars; ${VAR:?msg} fails with msg."""
    path = write(tmp_path, "env.yaml", """
        sources:
          in:
            type: demo_logs
            format: ${SLUICE_TEST_FORMAT}
        sinks:
          out:
            type: blackhole
            inputs: [in]
        """)
    r = validate("-c", path, env={"SLUICE_TEST_FORMAT": "json"})
    assert r.returncode == 0, output(r)

    path = write(tmp_path, "env-required.yaml", """
        sources:
          in:
            type: demo_logs
            format: ${SLUICE_TEST_UNSET:?set the demo format}
        sinks:
          out:
            type: blackhole
            inputs: [in]
        """)
    assert "SLUICE_TEST_UNSET" not in os.environ
    r = validate("-c", path)
    # Interpolation runs before components are known: no component label.
    assert_problem(r, "✗", f"{path}:{line_of(path, 'SLUICE_TEST_UNSET')}: environment variable "
                           '"SLUICE_TEST_UNSET" is unset or empty: set the demo format')
