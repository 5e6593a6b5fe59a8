"""Host names and patterns shared by the stages: `--allow` patterns and loopback checks. Pure."""

from __future__ import annotations

import ipaddress
import re


def host_pattern(allowed: str) -> str:
    """`--allow` value → regex over "host:port": `example.com`, `example.com:8443`, `*.example.com`."""
    # One colon separates a port; more than one is a bare IPv6 address.
    host, _, port = allowed.partition(":") if allowed.count(":") == 1 else (allowed, "", "")
    rx = re.escape(host.lower()).replace(r"\*", r"[^:]*")
    return f"^{rx}:{re.escape(port) if port else r'[0-9]+'}$"


def host_matcher(allowed: list[str] | tuple[str, ...]) -> "re.Pattern[str] | None":
    """One regex for a list of `--allow` values, or None when everything is allowed."""
    if not allowed:
        return None
    return re.compile("|".join(f"(?:{host_pattern(a)})" for a in allowed), re.IGNORECASE)


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def is_loopback_name(host: str) -> bool:
    return host.lower() in ("localhost", "localhost.") or is_loopback(host.strip("[]"))


def host_of(hostport: str) -> str:
    """The host of a Host header value: `example.com:8089` → `example.com`, `[::1]:8089` → `::1`."""
    if hostport.startswith("["):
        return hostport[1:hostport.find("]")] if "]" in hostport else hostport
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport
