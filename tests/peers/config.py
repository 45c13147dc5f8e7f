"""The one builder of the sluice configs the end-to-end tests write: the
global sections (api, data_dir, acknowledgements, shutdown) and the
sources / transforms / sinks sections around component blocks, plus the
blocks many tests share. Blocks are YAML text indented for their section
(a component's name at two spaces, its options at four), so a test adds
options to a component by appending lines to its block.

    pipeline(sources=stdin(), sinks=sink("out", "blackhole", ["in"]),
             api_port=port)"""
import json
import textwrap

# Fast retries, so a test of failures takes a fraction of a second.
FAST_RETRIES = """    request:
      retry_initial_backoff_secs: 0.05
      retry_max_duration_secs: 0.2
"""


def api(port=None):
    """The api section: on at 127.0.0.1:port, or off when port is None."""
    if port is None:
        return "api:\n  enabled: false\n"
    return f'api:\n  enabled: true\n  address: "127.0.0.1:{port}"\n'


def pipeline(sources, sinks, transforms="", api_port=None, data_dir=None, acks=None,
             shutdown=None, api_section=None):
    """A whole config. api_section replaces the api(api_port) section;
    acks (True/False) writes acknowledgements.enabled; None leaves a
    setting at its default."""
    parts = [api(api_port) if api_section is None else api_section]
    if data_dir is not None:
        parts.append(f'data_dir: "{data_dir}"\n')
    if shutdown is not None:
        parts.append(f"shutdown_timeout_secs: {shutdown}\n")
    if acks is not None:
        parts.append(f"acknowledgements:\n  enabled: {'true' if acks else 'false'}\n")
    parts.append("sources:\n" + sources)
    if transforms:
        parts.append("transforms:\n" + transforms)
    parts.append("sinks:\n" + sinks)
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts)


def component(name, kind, inputs=None, options=""):
    """A component block: `name`, its type, its inputs, then `options`
    (YAML lines, dedented here and indented under the component)."""
    text = f"  {name}:\n    type: {kind}\n"
    if inputs is not None:
        text += f"    inputs: {json.dumps(list(inputs))}\n"
    options = textwrap.dedent(options).strip("\n")
    if options:
        text += textwrap.indent(options, "    ") + "\n"
    return text


def stdin(codec=None, name="in"):
    """A stdin source, with a decoding codec when given."""
    return component(name, "stdin", options=f"decoding:\n  codec: {codec}" if codec else "")


def file_sink(path, inputs, codec="json", name="out"):
    """A file sink writing `path` with an encoding codec."""
    return component(name, "file", inputs, f'path: "{path}"\nencoding:\n  codec: {codec}')
