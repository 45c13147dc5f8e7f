"""End-to-end tests of the HTTP sinks' TLS options, through the `http` sink
against http_receiver.py speaking HTTPS: a private CA and certificates made
with the openssl CLI for each test session; tls.ca_file verifies the server
and delivers; without it the handshake fails, the request is counted as
failed, retried and not delivered, and the error is logged;
tls.verify_certificate: false and tls.verify_hostname: false each let their
case through; a client certificate (tls.crt_file, tls.key_file) is presented
to a server that requires one."""
import shutil
import ssl
import subprocess

import pytest

from conftest import free_port, metric_value, wait_for
from peers.recorder import HttpReceiver
from test_http_sink import config, delivered_messages, lines, run_with_input

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def issue(d, name, subject, extensions):
    """A key and a certificate signed by the CA in d: d/name.key, d/name.crt."""
    (d / f"{name}.ext").write_text(extensions)
    openssl("req", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
            cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext",
            cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", *EC_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=sluice test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    leaf = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
    issue(d, "server", "/CN=127.0.0.1",
          leaf + "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    issue(d, "other", "/CN=other.example",
          leaf + "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:other.example\n")
    issue(d, "client", "/CN=sluice client", leaf + "extendedKeyUsage=clientAuth\n")
    return d


def server_context(pki, cert="server", client_ca=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / f"{cert}.crt", pki / f"{cert}.key")
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki / "ca.crt")
    return ctx


def tls_extra(**tls):
    """The sink's tls section, with retries quick and few, so that a sink
    whose requests cannot get through gives up and sluice exits."""
    body = "".join(f"      {k}: {v}\n" for k, v in tls.items())
    return ("    tls:\n" + body if body else "") + """    request:
      retry_attempts: 2
      retry_initial_backoff_secs: 0.05
      retry_max_duration_secs: 0.1
"""


def send(start_sluice, rx, extra, n=3):
    return run_with_input(start_sluice, config(rx.url + "/in", "ndjson", extra), lines(n))


def assert_delivered(rx, n=3):
    assert delivered_messages(rx, "ndjson") == [f"line {i}" for i in range(n)]
    assert rx.tls_failures == 0


def assert_refused(s, rx, *words):
    """Nothing delivered; each of the 3 attempts (the first, retry_attempts:
    2) failed in TLS, was logged with curl's error and retried, then the
    request was given up, its events released as errored. (A client that
    rejects the server's name hangs up after a handshake the server saw
    succeed, so only no request shows.)"""
    err = s.stderr()
    assert rx.received() == []
    assert "retrying" in err and "Request failed after 3 attempts" in err
    assert "released as errored" in err
    assert any(w in err for w in words), err


def test_ca_file_verifies_and_delivers(start_sluice, pki):
    with HttpReceiver(ssl_context=server_context(pki)) as rx:
        send(start_sluice, rx, tls_extra(ca_file=f'"{pki}/ca.crt"'))
        assert_delivered(rx)


def test_without_ca_file_the_request_fails_is_counted_and_retried(start_sluice, pki):
    port = free_port()
    with HttpReceiver(ssl_context=server_context(pki)) as rx:
        cfg = config(rx.url + "/in", "ndjson", tls_extra(), api_port=port)
        s = start_sluice(cfg, stdin=subprocess.PIPE)
        s.proc.stdin.write(lines(3))
        s.proc.stdin.flush()
        s.wait_healthy(port)
        wait_for(lambda: rx.tls_failures >= 3, what="three failed handshakes")

        def three_failures_counted():
            # The receiver sees a handshake fail a moment before sluice
            # counts it.
            return metric_value(port, "component_errors_total", component_id="out",
                                error_type="request_failed") == 3
        wait_for(three_failures_counted, what="three request failures counted")
        s.proc.stdin.close()
        assert s.wait(30) == 0, s.stderr()
        assert_refused(s, rx, "certificate", "SSL")
        assert rx.tls_failures == 3


def test_verify_certificate_false_delivers_without_a_ca(start_sluice, pki):
    with HttpReceiver(ssl_context=server_context(pki)) as rx:
        send(start_sluice, rx, tls_extra(verify_certificate="false"))
        assert_delivered(rx)


def test_verify_hostname_false_accepts_a_certificate_for_another_name(start_sluice, pki):
    ca = f'"{pki}/ca.crt"'
    with HttpReceiver(ssl_context=server_context(pki, "other")) as rx:
        s = send(start_sluice, rx, tls_extra(ca_file=ca))
        assert_refused(s, rx, "127.0.0.1", "name", "SSL")
    with HttpReceiver(ssl_context=server_context(pki, "other")) as rx:
        send(start_sluice, rx, tls_extra(ca_file=ca, verify_hostname="false"))
        assert_delivered(rx)


def test_client_certificate_required_by_the_server(start_sluice, pki):
    ca = f'"{pki}/ca.crt"'
    with HttpReceiver(ssl_context=server_context(pki, client_ca=True)) as rx:
        send(start_sluice, rx, tls_extra(ca_file=ca, crt_file=f'"{pki}/client.crt"',
                                         key_file=f'"{pki}/client.key"'))
        assert_delivered(rx)
    with HttpReceiver(ssl_context=server_context(pki, client_ca=True)) as rx:
        s = send(start_sluice, rx, tls_extra(ca_file=ca))
        assert rx.accepted() == []
        assert "retrying" in s.stderr() and "released as errored" in s.stderr()
