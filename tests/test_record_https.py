"""HTTPS through mitmproxy's CA against a local TLS server; hosts outside --allow stay encrypted."""

from __future__ import annotations

import requests

from tests.dbutil import flows
from tests.tls import TLSServer


def through(proxy: str, verify: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # no proxy or CA bundle from the environment
    s.proxies = {"http": proxy, "https": proxy}
    s.verify = verify
    return s


def test_https_is_decrypted_with_mitmproxys_ca_and_recorded(tmp_path, db, recorder_factory):
    server = TLSServer(tmp_path)
    rec = recorder_factory("tls", "--ssl-insecure")
    try:
        # The client trusts only the CA the README points at: the proxy must present a cert it signed.
        r = through(rec.proxy, str(rec.ca_cert)).get(f"https://localhost:{server.port}/secure?x=1")
        assert r.json() == {"path": "/secure?x=1", "secure": True}
        code, _, err = rec.stop()
    finally:
        server.close()
    assert code == 0, err
    [flow] = flows(db, "tls")
    assert (flow["scheme"], flow["host"], flow["port"], flow["path"], flow["query"]) == ("https", "localhost", server.port, "/secure", "x=1")
    assert flow["status"] == 200 and '"secure": true' in flow["response_body"]


def test_hosts_outside_the_allow_list_pass_through_undecrypted(tmp_path, db, recorder_factory):
    server = TLSServer(tmp_path)
    rec = recorder_factory("tls-allow", "--ssl-insecure", "--allow", "localhost")
    try:
        # Verified against the server's own certificate: only possible if the proxy did not intercept.
        passthrough = through(rec.proxy, str(server.cert)).get(f"https://127.0.0.1:{server.port}/untouched")
        assert passthrough.status_code == 200
        intercepted = through(rec.proxy, str(rec.ca_cert)).get(f"https://localhost:{server.port}/recorded")
        assert intercepted.status_code == 200
        code, _, err = rec.stop()
    finally:
        server.close()
    assert code == 0, err
    assert [f["path"] for f in flows(db, "tls-allow")] == ["/recorded"]
