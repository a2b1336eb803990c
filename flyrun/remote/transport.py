"""HTTP transport shared by every admin call and every upload: TLS, proxies, timeouts and network errors.

One ``Transport`` wraps one ``requests.Session`` and applies the same rules to every request, whether it goes to
FlyteAdmin or to a signed storage URL:

- TLS: ``admin.caCertFilePath`` (a CA bundle), else ``$REQUESTS_CA_BUNDLE`` / ``$SSL_CERT_FILE``, else the system
  default; ``admin.insecureSkipVerify`` turns verification off (with one warning).
- Proxies: ``admin.httpProxyURL``, else ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` (either case); hosts
  matching ``NO_PROXY`` (names, ``.domain`` suffixes, IPs, CIDR ranges, ``*``) go direct.
- The environment is the one handed in, never ``os.environ`` behind the caller's back: requests' own
  environment handling is off (``trust_env=False``), which also keeps ``~/.netrc`` from replacing the
  ``Authorization`` header.
- Connection failures, timeouts and TLS failures become ``ServerError`` (exit 5) naming the host, never the full
  URL (a signed URL's query string is a credential).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flyrun.__about__ import __version__
from flyrun.config.checks import require_consistent
from flyrun.errors import ServerError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0


class Transport:
    """Send HTTP requests with the TLS, proxy and timeout rules above."""

    def __init__(self, *, verify: bool | str = True, proxy_url: str | None = None,
                 environ: Mapping[str, str] | None = None,
                 timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)) -> None:
        self.verify = verify
        self.proxy_url = proxy_url
        self.environ = dict(environ or {})
        self.timeout = timeout
        self._session = None

    @classmethod
    def from_config(cls, config, environ: Mapping[str, str],
                    notify: Callable[[str], None] | None = None) -> Transport:
        """The transport ``config`` describes; warns once through ``notify`` when TLS verification is off."""
        require_consistent(config, ("admin.caCertFilePath",))
        verify: bool | str = True
        ca_file = config.get("admin.caCertFilePath")
        if config.get("admin.insecureSkipVerify"):
            verify = False
            if notify:
                notify("Warning: TLS certificate verification is off (admin.insecureSkipVerify)")
        elif ca_file:
            from pathlib import Path

            verify = str(Path(ca_file).expanduser())
        else:
            verify = environ.get("REQUESTS_CA_BUNDLE") or environ.get("SSL_CERT_FILE") or True
        return cls(verify=verify, proxy_url=config.get("admin.httpProxyURL"), environ=environ)

    @property
    def session(self):
        if self._session is None:
            import requests

            session = requests.Session()
            session.trust_env = False
            session.headers["User-Agent"] = _user_agent()
            if self.verify is False:
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self._session = session
        return self._session

    def request(self, method: str, url: str, **kwargs: Any):
        """``requests.Session.request`` with this transport's rules; raises ``ServerError`` on network failure."""
        import requests

        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("proxies", self.proxies_for(url))
        try:
            return self.session.request(method, url, **kwargs)
        except requests.exceptions.RequestException as error:
            # requests' messages quote the URL (and -v shows the cause): a signed URL's query is a credential.
            secret_bearing = [url, *kwargs["proxies"].values()]
            cause = None if any(urlsplit(u).query or "@" in urlsplit(u).netloc for u in secret_bearing) else error
            raise _network_error(error, url, kwargs["proxies"]) from cause

    def proxies_for(self, url: str) -> dict[str, str]:
        """The proxy mapping for one URL: empty when the host is in NO_PROXY or no proxy is configured."""
        scheme = _scheme(url)
        host = urlsplit(url).hostname or ""
        if self._bypasses_proxy(host, urlsplit(url).port):
            return {}
        proxy = self.proxy_url or self._env(f"{scheme}_proxy") or self._env("all_proxy")
        return {scheme: proxy} if proxy else {}

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _env(self, name: str) -> str | None:
        return self.environ.get(name) or self.environ.get(name.upper()) or None

    def _bypasses_proxy(self, host: str, port: int | None) -> bool:
        entries = [e.strip().lower() for e in (self._env("no_proxy") or "").split(",") if e.strip()]
        host = host.lower()
        for entry in entries:
            if entry == "*":
                return True
            name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            if entry_port and port is not None and entry_port != str(port):
                continue
            if _matches_host(host, name):
                return True
        return False


def _network_error(error: BaseException, url: str, proxies: Mapping[str, str]) -> ServerError:
    import requests

    where = origin(url)
    if isinstance(error, requests.exceptions.SSLError):
        return ServerError(f"TLS handshake with {where} failed: {_reason(error)}",
                           hint="set admin.caCertFilePath to the server's CA bundle (or, for testing only, "
                           "admin.insecureSkipVerify: true); use admin.insecure: true for plain http")
    if isinstance(error, requests.exceptions.ProxyError):
        proxy = proxies.get(_scheme(url), "")
        return ServerError(f"proxy {origin(proxy) if proxy else '(none)'} failed to reach {where}: "
                           f"{_reason(error)}", hint="check admin.httpProxyURL / HTTPS_PROXY, or list the host "
                           "in NO_PROXY")
    if isinstance(error, requests.exceptions.Timeout):
        return ServerError(f"{where} did not answer in time ({_reason(error)})",
                           hint="check that the server is up and admin.endpoint is right")
    if isinstance(error, requests.exceptions.ConnectionError):
        return ServerError(f"cannot reach {where}: {_reason(error)}",
                           hint="check that the server is running and admin.endpoint is right")
    return ServerError(f"request to {where} failed: {type(error).__name__}")


def _matches_host(host: str, entry: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        try:
            return address in ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            return False
    suffix = entry.lstrip(".")
    return host == suffix or host.endswith("." + suffix)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL: safe to print (no user info, path or query)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _scheme(url: str) -> str:
    return urlsplit(url).scheme or "https"


def _reason(error: BaseException) -> str:
    """A short cause: the innermost exception's text, without the URL requests puts in front."""
    text = str(error)
    for marker in ("Connection refused", "Name or service not known", "nodename nor servname",
                   "timed out", "certificate verify failed", "No route to host", "Temporary failure in name"):
        if marker in text:
            return marker.lower()
    cause = error
    while (inner := cause.__cause__ or cause.__context__) is not None:
        cause = inner
    return type(cause).__name__


def _user_agent() -> str:
    return f"flyrun/{__version__}"
