"""The command line an operator meets first: --version, --help, `list`,
`doc TYPE`, the logging flags, and a real `run` of stdin -> console that
ends by itself at EOF."""
import json
import re
import textwrap

from conftest import run_cli

PUBLIC_TYPES = {
    "source": ["stdin", "demo_logs", "internal_metrics"],
    "sink": ["console", "file", "blackhole"],
}


def output(result):
    return result.stdout + result.stderr


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0, output(r)
    assert re.search(r"sluice \d+\.\d+\.\d+", r.stdout), r.stdout


def test_help_names_every_command():
    r = run_cli("--help")
    assert r.returncode == 0, output(r)
    for word in ("run", "validate", "list", "doc", "--config", "--threads",
                 "--log-level", "--log-format"):
        assert word in r.stdout, f"{word} missing from --help:\n{r.stdout}"


def test_unknown_command_is_a_usage_error():
    r = run_cli("frobnicate")
    assert r.returncode != 0
    assert "frobnicate" in r.stderr


def test_unknown_flag_is_a_usage_error():
    r = run_cli("--no-such-flag")
    assert r.returncode != 0
    assert "--no-such-flag" in r.stderr


def test_list_shows_public_types_by_kind():
    r = run_cli("list")
    assert r.returncode == 0, output(r)
    for types in PUBLIC_TYPES.values():
        for t in types:
            assert re.search(rf"\b{t}\b", r.stdout), f"{t} missing from list:\n{r.stdout}"
    # The internal test transform is hidden.
    assert not re.search(r"\bnoop\b", r.stdout), r.stdout
    # Kinds are grouped: every source is listed before the first sink.
    last_source = max(r.stdout.index(t) for t in PUBLIC_TYPES["source"])
    first_sink = min(re.search(rf"\b{t}\b", r.stdout).start() for t in PUBLIC_TYPES["sink"])
    assert last_source < first_sink, r.stdout


def test_doc_lists_options_of_a_type():
    r = run_cli("doc", "file")
    assert r.returncode == 0, output(r)
    assert "path" in r.stdout
    assert "encoding.codec" in r.stdout
    assert "required" in r.stdout


def test_doc_of_every_public_type():
    for types in PUBLIC_TYPES.values():
        for t in types:
            r = run_cli("doc", t)
            assert r.returncode == 0, f"doc {t}: {output(r)}"
            assert r.stdout.strip(), f"doc {t} printed nothing"


def test_doc_of_unknown_type_is_an_error():
    r = run_cli("doc", "consol")
    assert r.returncode != 0
    assert "'consol'" in r.stderr
    assert "sluice list" in r.stderr


def test_bad_log_level_is_refused():
    r = run_cli("--log-level", "loud", "validate")
    assert r.returncode != 0
    assert "loud" in r.stderr


def run_stdin_console(tmp_path, lines, *flags):
    """Runs stdin -> console (json) over `lines` and returns the result."""
    config = tmp_path / "console.yaml"
    config.write_text(textwrap.dedent("""
        api:
          enabled: false
        sources:
          in:
            type: stdin
        sinks:
          out:
            type: console
            inputs: [in]
            encoding:
              codec: json
        """))
    return run_cli(*flags, "run", "-c", str(config),
                   input="".join(line + "\n" for line in lines), timeout=60)


def test_run_stdin_to_console_ends_at_eof(tmp_path):
    lines = [f"hello {i}" for i in range(100)]
    r = run_stdin_console(tmp_path, lines)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["message"] for e in events] == lines
    assert all("timestamp" in e for e in events)


def test_threads_flag(tmp_path):
    r = run_stdin_console(tmp_path, ["one", "two"], "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2


def test_log_format_json(tmp_path):
    """--log-format json: every line sluice logs on stderr is a JSON object."""
    r = run_stdin_console(tmp_path, ["x"], "--log-format", "json", "--log-level", "debug")
    assert r.returncode == 0, r.stderr
    logged = [line for line in r.stderr.splitlines() if line.strip()]
    assert logged, "nothing logged at debug level"
    for line in logged:
        assert isinstance(json.loads(line), dict), line


def test_log_level_error_is_quiet(tmp_path):
    r = run_stdin_console(tmp_path, ["x"], "--log-level", "error")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == ""


def test_graceful_shutdown_flags_are_checked():
    r = run_cli("--help")
    assert "--graceful-shutdown-limit-secs" in r.stdout
    assert "--no-graceful-shutdown-limit" in r.stdout
    for bad in ("0", "-3", "soon"):
        r = run_cli("--graceful-shutdown-limit-secs", bad, "validate")
        assert r.returncode == 2, output(r)
        assert "--graceful-shutdown-limit-secs" in r.stderr
    r = run_cli("--graceful-shutdown-limit-secs", "5", "--no-graceful-shutdown-limit",
                "validate")
    assert r.returncode == 2, output(r)
    assert "together" in r.stderr


def test_graceful_shutdown_limit_flag_runs(tmp_path):
    r = run_stdin_console(tmp_path, ["one", "two"], "--graceful-shutdown-limit-secs=3")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2
    r = run_stdin_console(tmp_path, ["one"], "--no-graceful-shutdown-limit")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1
