"""Why a connection to Redis failed, when TLS is the reason: a certificate the client does not trust
or that names another host, TLS spoken to a plain-text server, or plain text to a TLS one.

The last two look alike from the client (a handshake that times out, a connection reset), so the
doctor asks the server itself: a PING in plain text, or a bare TLS handshake. Neither sends the
URL's credentials.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlparse

from cli.doctor.model import Check, Status

# How long each probe of the server may take.
PROBE_TIMEOUT = 2.0
# OpenSSL's codes for a certificate that is valid but names another host or IP address.
_NAME_MISMATCH = frozenset({62, 64})  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_SETTING = "REDIS_URL"


def tls_problem(url: str, exc: BaseException) -> Check | None:
    """The check to report when exc (from connecting to url) comes from TLS; None when it does not."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        return None
    host, port = parsed.hostname, parsed.port or 6379
    where = f"{host}:{port}"
    causes = list(_chain(exc))
    verify = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        reason = f"certificate verify failed: {verify.verify_message or verify.reason or verify}"
        if verify.verify_code in _NAME_MISMATCH:
            return _fail(
                f"Redis at {where}: TLS certificate is for another name ({reason})",
                f"in {_SETTING}, connect by a name the certificate lists (the endpoint's name, not an IP address)",
            )
        return _fail(
            f"Redis at {where}: TLS certificate not trusted ({reason})",
            f"set ssl_ca_certs=/path/to/ca.pem in {_SETTING} (the CA that signed the server's certificate), "
            "keeping ssl_cert_reqs=required",
        )
    if parsed.scheme == "rediss" and _speaks_plain(host, port):
        return _fail(
            f"Redis at {where} speaks plain text, but {_SETTING} asks for TLS (rediss://)",
            "turn TLS on for that Redis (in-transit encryption, tls-port), or use redis:// if it is meant to be plain",
        )
    if parsed.scheme == "redis" and _speaks_tls(host, port):
        return _fail(
            f"Redis at {where} expects TLS, but {_SETTING} is plain text (redis://)",
            f"use rediss:// in {_SETTING}, with ssl_ca_certs=/path/to/ca.pem unless its CA is in the system's store",
        )
    return None


def _fail(detail: str, fix: str) -> Check:
    return Check("redis", "connection", Status.FAIL, detail, fix)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """exc and what caused it (redis-py wraps the ssl error it met), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _speaks_plain(host: str, port: int) -> bool:
    """Whether the server answers a plain-text PING (with PONG, or an error such as NOAUTH)."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(1)[:1] in (b"+", b"-")
    except OSError:
        return False


def _speaks_tls(host: str, port: int) -> bool:
    """Whether the server completes a TLS handshake (certificate not checked: only the protocol is asked)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT) as sock, context.wrap_socket(sock):
            return True
    except OSError:
        return False
