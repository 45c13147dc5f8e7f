"""sluice's /metrics as the harness polls it (parsed by the shared
tests/peers/prometheus.py), and a free port for sluice's API."""
import http.client
import socket

from peers import prometheus


def free_port():
    """A TCP port nothing listens on now (the kernel's pick), for sluice's API."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_metrics(port, timeout=2.0):
    """GET /metrics: the text, or None while the API does not answer yet."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            body = resp.read()
            return body.decode(errors="replace") if resp.status == 200 else None
        finally:
            conn.close()
    except OSError:
        return None


def metric_value(text, name, component_id):
    """The value of `name` for component_id (summed over its other labels);
    0 when the series is not there yet."""
    return int(prometheus.parse(text).value(name, component_id=component_id) or 0)


def events_metrics(text):
    """The per-component event, error and file series of a scrape, for a
    failure report."""
    keep = ("_events_total", "_errors_total", "files_watched", "buffer_size_events")
    return "\n".join(line for line in text.splitlines()
                     if not line.startswith("#") and any(k in line for k in keep))
