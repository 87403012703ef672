"""A loopback HTTP(S) proxy that serves captured pages under their real URLs.

End-to-end tests point a real HTTP client (the Scrapy engine, urllib, ...) at
this mirror through the standard proxy environment variables, so the crawler
sees and archives the outlets' original URLs while every byte is served from
memory on 127.0.0.1.  Nothing is ever forwarded anywhere: a URL that was not
registered gets a 404.

How clients reach it:

* ``http://`` URLs: the client sends an absolute-form request
  (``GET http://host/path HTTP/1.1``) to the proxy.
* ``https://`` URLs: the client sends ``CONNECT host:443``; the mirror answers
  ``200 Connection established`` and then terminates TLS itself with a
  throwaway self-signed certificate (clients must not verify it; Scrapy does
  not by default) and serves the requests sent inside the tunnel as
  ``https://<Host header or CONNECT host><path>``.  Several requests per
  tunnel (keep-alive) are supported.
* Origin-form requests sent straight to the mirror (no proxy) are served when
  their ``Host`` header names a mirrored host (``http`` entry preferred, then
  ``https``).

Usage::

    with Mirror() as m:
        m.add("https://vnexpress.net/a.html", "<html>...</html>")
        env = {**os.environ, **m.proxy_env()}
        subprocess.run([...], env=env)
        assert m.hits("https://vnexpress.net/a.html") == 1
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
import http.server
import ipaddress
import re
import socket
import socketserver
import ssl
import tempfile
import struct
import threading
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = ["Mirror", "MirrorRequest", "normalize_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class MirrorRequest:
    """One HTTP request answered by the mirror (CONNECTs are in ``Mirror.tunnels``)."""

    method: str
    url: str  # normalised full URL, e.g. "https://vnexpress.net/a.html"
    status: int
    at: float = field(default=0.0, compare=False)  # time.monotonic() when it arrived


# Misbehaviours an entry can have, for fault-injection tests:
FAULTS = ("stall", "reset", "truncate")


class _Entry(NamedTuple):
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    fault: str | None = None  # one of FAULTS


# --------------------------------------------------------------------------- #
# URL normalisation
# --------------------------------------------------------------------------- #

_PCT_RE = re.compile(r"%[0-9a-fA-F]{2}")

try:  # w3lib ships with Scrapy; it percent-encodes the way Scrapy does.
    from w3lib.url import safe_url_string as _safe_url_string
except ImportError:  # pragma: no cover - Scrapy is always installed here
    _safe_url_string = None


def normalize_url(url: str) -> str:
    """Return the lookup key of *url*.

    scheme (lowercase) + host (lowercase) + port (dropped when it is the
    scheme's default) + path ("/" when empty) + "?query" when present.
    The fragment is dropped.  Non-ASCII characters are percent-encoded as
    UTF-8 (as Scrapy does before sending) and percent escapes are uppercased,
    so "https://x.vn/tin-tức" and "https://x.vn/tin-t%e1%bb%a9c" are one key.
    """
    if _safe_url_string is not None:
        url = _safe_url_string(url)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"mirror only serves http/https URLs, got {url!r}")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise ValueError(f"URL without a host: {url!r}")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _PCT_RE.sub(lambda m: m.group(0).upper(), parts.path or "/")
    query = _PCT_RE.sub(lambda m: m.group(0).upper(), parts.query)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def _host_key(host: str) -> str:
    """Lowercase host without port/trailing dot (brackets kept for IPv6)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")


# --------------------------------------------------------------------------- #
# Throwaway TLS certificate (one per process, generated lazily)
# --------------------------------------------------------------------------- #

_SSL_CONTEXT: ssl.SSLContext | None = None
_SSL_LOCK = threading.Lock()


def _server_ssl_context() -> ssl.SSLContext:
    global _SSL_CONTEXT
    with _SSL_LOCK:
        if _SSL_CONTEXT is None:
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import NameOID

            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kcn-archive test mirror")])
            now = datetime.datetime.now(datetime.timezone.utc)
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(
                    x509.SubjectAlternativeName(
                        [
                            x509.DNSName("localhost"),
                            x509.DNSName("*.vn"),
                            x509.DNSName("*.net"),
                            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        ]
                    ),
                    critical=False,
                )
                .sign(key, hashes.SHA256())
            )
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory(prefix="kcn-mirror-") as tmp:
                cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
                cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
                key_path.write_bytes(
                    key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
                ctx.load_cert_chain(cert_path, key_path)
            _SSL_CONTEXT = ctx
        return _SSL_CONTEXT


# --------------------------------------------------------------------------- #
# Server
# --------------------------------------------------------------------------- #


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False  # we join our own handler threads in Mirror.stop()

    def __init__(self, mirror: Mirror) -> None:
        self.mirror = mirror
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), i.e. a reverse DNS
        # lookup; skip it: nothing here may touch a resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        # Client hang-ups, TLS handshake failures etc. are not test failures;
        # keep stderr quiet.
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive by default
    server_version = "kcn-mirror/1.0"
    sys_version = ""
    timeout = 30  # idle keep-alive connections die eventually even without stop()
    server: _Server

    # connection state --------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self._tunnel: tuple[str, int] | None = None  # (host, port) after CONNECT
        self._tls: ssl.SSLSocket | None = None
        self.server.mirror._register(self.request, threading.current_thread())

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            if self._tls is not None:
                try:
                    self._tls.close()
                except OSError:
                    pass
            self.server.mirror._unregister(self.request, self._tls)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (OSError, ssl.SSLError):
            self.close_connection = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002, ANN002
        pass

    # CONNECT -----------------------------------------------------------
    def do_CONNECT(self) -> None:  # noqa: N802
        if self._tunnel is not None:  # CONNECT inside a tunnel: refuse
            self._send(405, b"nested CONNECT not supported\n", close=True)
            return
        target = self.path
        host, _, port_s = target.rpartition(":")
        if not host or not port_s.isdigit():
            host, port_s = target, "443"
        host = host.strip("[]").lower() if host.startswith("[") else host.lower()
        port = int(port_s)
        self.server.mirror._log_tunnel(f"{host}:{port}")
        # We never connect anywhere: the "tunnel" ends here, in our TLS layer.
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        try:
            tls = _server_ssl_context().wrap_socket(self.connection, server_side=True)
        except (OSError, ssl.SSLError):
            self.close_connection = True
            return
        self._tls = tls
        self.server.mirror._swap(self.request, tls)
        old_rfile = self.rfile
        self.connection = tls
        self.rfile = tls.makefile("rb", self.rbufsize)
        self.wfile = socketserver._SocketWriter(tls)  # type: ignore[attr-defined]
        try:
            old_rfile.close()
        except OSError:
            pass
        self._tunnel = (host, port)
        self.close_connection = False  # keep serving requests inside the tunnel

    # ordinary methods ---------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def _other(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = self._target_url()
        body = f"method {self.command} not supported by the test mirror\n".encode()
        self.server.mirror._log(self.command, url or self.path, 405)
        self._send(405, body, extra=(("Allow", "GET, HEAD"),))

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other  # noqa: N815

    # helpers ------------------------------------------------------------
    def _target_url(self) -> str | None:
        """Full URL the client asked for, or None if it cannot be determined."""
        path = self.path
        mirror = self.server.mirror
        try:
            if path.lower().startswith(("http://", "https://")):  # absolute-form
                return normalize_url(path)
            if not path.startswith("/"):
                path = "/" + path
            if self._tunnel is not None:
                host = self.headers.get("Host") or f"{self._tunnel[0]}:{self._tunnel[1]}"
                return normalize_url(f"https://{host}{path}")
            host = self.headers.get("Host")
            if not host:
                return None
            http_url = normalize_url(f"http://{host}{path}")
            if not mirror._has_host(http_url):
                https_url = normalize_url(f"https://{_host_key(host)}{path}")
                if mirror._has_host(https_url):
                    return https_url
            return http_url
        except ValueError:
            return None

    def _serve(self, *, head: bool) -> None:
        mirror = self.server.mirror
        url = self._target_url()
        entry = mirror._take(url) if url else None
        if entry is None:
            status = 404
            body = f"not mirrored: {url or self.path}\n".encode()
            extra: tuple[tuple[str, str], ...] = (("Content-Type", "text/plain; charset=utf-8"),)
        else:
            status, body, extra, fault = entry
            if fault:
                mirror._log(self.command, url, status)
                self._misbehave(fault, status, body, extra)
                return
        mirror._log(self.command, url or self.path, status)
        self._send(status, body, extra=extra, head=head)

    def _misbehave(self, fault: str, status: int, body: bytes, extra) -> None:
        """stall: say nothing for a minute; reset: half the body, then a TCP RST;
        truncate: half the body, then a clean close (fewer bytes than promised)."""
        if fault == "stall":
            time.sleep(60)
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        extra: tuple[tuple[str, str], ...] = (),
        head: bool = False,
        close: bool = False,
    ) -> None:
        client_conn = (self.headers.get("Connection", "") if self.headers else "").lower()
        if "close" in client_conn or self.request_version == "HTTP/1.0" and "keep-alive" not in client_conn:
            close = True
        no_body = status in (204, 304) or 100 <= status < 200
        self.send_response(status)
        for name, value in extra:
            if name.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            self.send_header(name, value)
        if not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close" if close else "keep-alive")
        self.end_headers()
        if not head and not no_body:
            self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = close


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #


class Mirror:
    """In-memory table of URL -> response, served through a loopback proxy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[str, _Entry] = {}
        self._queues: dict[str, list[_Entry]] = {}  # responses served before the table's
        self._log_entries: list[MirrorRequest] = []
        self._tunnels: list[str] = []
        self._conns: dict[int, socket.socket] = {}
        self._threads: set[threading.Thread] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # table ----------------------------------------------------------------
    def add(
        self,
        url: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        fault: str | None = None,
    ) -> None:
        """Register (or replace) the response for *url*.

        ``headers`` are sent as given and may override Content-Type;
        Content-Length/Connection are always computed by the mirror.
        ``fault`` (one of FAULTS) makes the response misbehave.
        """
        entry = _entry(body, status, content_type, headers, fault)
        key = normalize_url(url)
        with self._lock:
            self._table[key] = entry
            self._queues.pop(key, None)

    def add_sequence(self, url: str, responses: list[dict]) -> None:
        """Answer successive requests for *url* with successive responses (each a
        dict of ``add``'s arguments); the last one repeats."""
        entries = [_entry(r.get("body", b""), r.get("status", 200),
                          r.get("content_type", "text/html; charset=utf-8"),
                          r.get("headers"), r.get("fault")) for r in responses]
        key = normalize_url(url)
        with self._lock:
            self._table[key] = entries[-1]
            self._queues[key] = entries[:-1]

    def add_redirect(self, url: str, location: str, status: int = 301) -> None:
        """Answer *url* with a redirect to *location* (absolute or relative)."""
        body = f'<html><body><a href="{location}">moved</a></body></html>'
        self.add(url, body, status=status, headers={"Location": location})

    def remove(self, url: str) -> None:
        """Forget *url*; later requests for it get 404.  Unknown URLs are ignored."""
        with self._lock:
            self._table.pop(normalize_url(url), None)

    # lifecycle -------------------------------------------------------------
    def start(self) -> Mirror:
        if self._server is not None:
            return self
        _server_ssl_context()  # generate the certificate before any client arrives
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"kcn-mirror:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()  # stop accepting
        server.server_close()
        # Kick every open (keep-alive / tunnel) connection so its handler
        # thread returns from recv() immediately.
        with self._lock:
            conns = list(self._conns.values())
            threads = list(self._threads)
        for conn in conns:
            try:
                # base-class shutdown works on SSL sockets without touching the
                # SSL object another thread may be using
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout=5)
        for t in threads:
            t.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Mirror:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # addresses -------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("Mirror is not started")
        return self._server.server_address[1]

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def proxy_env(self) -> dict[str, str]:
        """Environment for a subprocess whose HTTP clients should use the mirror.

        Lower-case names win over upper-case ones in urllib/Scrapy, and an
        empty lower-case ``no_proxy`` also cancels an inherited ``NO_PROXY``.
        """
        url = self.proxy_url
        return {
            "http_proxy": url,
            "https_proxy": url,
            "HTTP_PROXY": url,
            "HTTPS_PROXY": url,
            "no_proxy": "",
            "NO_PROXY": "",
        }

    # request log -----------------------------------------------------------
    @property
    def requests(self) -> list[MirrorRequest]:
        """Copy of the log of HTTP requests served (CONNECTs excluded)."""
        with self._lock:
            return list(self._log_entries)

    @property
    def tunnels(self) -> list[str]:
        """``host:port`` of every CONNECT received, in order."""
        with self._lock:
            return list(self._tunnels)

    def hits(self, url: str) -> int:
        """Number of GET requests for *url* (normalised like ``add``)."""
        key = normalize_url(url)
        with self._lock:
            return sum(1 for r in self._log_entries if r.method == "GET" and r.url == key)

    def reset_log(self) -> None:
        with self._lock:
            self._log_entries.clear()
            self._tunnels.clear()

    def body(self, url: str) -> bytes:
        """The body registered for ``url`` (KeyError if none), e.g. to serve an edited copy."""
        entry = self._lookup(normalize_url(url))
        if entry is None:
            raise KeyError(url)
        return entry.body

    # internals used by the handler ----------------------------------------------
    def _lookup(self, url: str) -> _Entry | None:
        with self._lock:
            return self._table.get(url)

    def _take(self, url: str) -> _Entry | None:
        """The response for this request: the next of a sequence, else the table's."""
        with self._lock:
            queue = self._queues.get(url)
            return queue.pop(0) if queue else self._table.get(url)

    def _has_host(self, url: str) -> bool:
        prefix = url.split("/", 3)[:3]
        origin = "/".join(prefix) + "/"
        with self._lock:
            return any(k.startswith(origin) for k in self._table)

    def _log(self, method: str, url: str, status: int) -> None:
        with self._lock:
            self._log_entries.append(MirrorRequest(method, url, status, time.monotonic()))

    def _log_tunnel(self, target: str) -> None:
        with self._lock:
            self._tunnels.append(target)

    def _register(self, sock: socket.socket, thread: threading.Thread) -> None:
        with self._lock:
            self._conns[id(sock)] = sock
            self._threads.add(thread)

    def _swap(self, raw: socket.socket, tls: ssl.SSLSocket) -> None:
        with self._lock:
            self._conns[id(raw)] = tls

    def _unregister(self, raw: socket.socket, tls: ssl.SSLSocket | None) -> None:
        with self._lock:
            self._conns.pop(id(raw), None)
            self._threads.discard(threading.current_thread())


def _entry(body: bytes | str, status: int, content_type: str,
           headers: dict[str, str] | None, fault: str | None) -> _Entry:
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
    if isinstance(body, str):
        body = body.encode("utf-8")
    hdrs: dict[str, tuple[str, str]] = {"content-type": ("Content-Type", content_type)}
    for name, value in (headers or {}).items():
        hdrs[name.lower()] = (name, str(value))
    return _Entry(int(status), bytes(body), tuple(hdrs.values()), fault)
