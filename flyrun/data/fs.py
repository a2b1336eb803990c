"""The file system behind a path or URI, built from the run's storage settings, and storage errors that say where.

Storage settings travel in ``ExecutionContext.storage_options``: fsspec keyword arguments by protocol (``"s3"``,
``"gs"``), plus ``"credential_sources"``, a readable note per protocol of where the credentials come from (never
the credentials themselves). One builder makes them: ``storage_options_from_config`` from Flyte's ``storage.*``
configuration, ``storage_options_from_environment`` from the variables a task pod sees (read as those same items).
Nothing here is imported or read at module import: fsspec, s3fs and gcsfs load on first use.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator, Mapping
from typing import Any

from flyrun.errors import ConfigError, FlyrunError, StorageError

LOCAL = "file"
# Other spellings of the protocols flyrun configures.
_ALIASES = {"s3a": "s3", "gcs": "gs", "local": LOCAL}
CREDENTIAL_SOURCES = "credential_sources"


def protocol_of(path_or_uri: str) -> str:
    """``"s3"``, ``"gs"``, ... or ``"file"`` for a local path (with or without ``file://``)."""
    scheme, sep, _ = path_or_uri.partition("://")
    if not sep or not scheme.replace("+", "").replace("-", "").isalnum():
        return LOCAL
    return _ALIASES.get(scheme.lower(), scheme.lower())


def is_local(path_or_uri: str) -> bool:
    return protocol_of(path_or_uri) == LOCAL


def normalize(path_or_uri: str | os.PathLike[str]) -> str:
    """A local path stays a path (``file://`` dropped, ``~`` expanded); a URI stays as written."""
    text = os.fspath(path_or_uri)
    if text.startswith("file://"):
        return text[len("file://"):] or "/"
    if is_local(text):
        return os.path.expanduser(text)
    return text


def join(base: str, *parts: str) -> str:
    """Join path parts onto a local path or a URI (always with ``/`` in a URI)."""
    if is_local(base):
        return os.path.join(base, *parts)
    return posixpath.join(base, *(part.strip("/") for part in parts))


def basename(path_or_uri: str) -> str:
    return posixpath.basename(path_or_uri.rstrip("/")) if not is_local(path_or_uri) else \
        os.path.basename(path_or_uri.rstrip(os.sep))


def filesystem_for(path_or_uri: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    """The fsspec file system for ``path_or_uri`` and the path within it (the URI without its scheme)."""
    protocol = protocol_of(path_or_uri)
    options = dict(storage_options.get(protocol) or {})
    if protocol == "gs":
        _prepare_gcsfs_import()
    if protocol in ("s3", "gs"):
        # Listings must reflect what other writers (other tasks, other processes) did since the last look.
        options.setdefault("use_listings_cache", False)
    import fsspec

    fs = fsspec.filesystem(protocol, **options)
    target = normalize(path_or_uri) if protocol == LOCAL else path_or_uri
    return fs, fs._strip_protocol(target)


def _prepare_gcsfs_import() -> None:
    # gcsfs otherwise probes a TLS gRPC API for the bucket type on every bucket operation and, where that API is
    # unreachable (emulators, proxies), retries it for a minute each time. Only takes effect before gcsfs loads.
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def storage_options_from_config(config: Any, environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """fsspec options by protocol from Flyte's ``storage.*`` items (a ``flyrun.config.Config``)."""
    s3, s3_source = _s3_options(config, environ)
    gs, gs_source = _gcs_options(config, environ)
    return {"s3": s3, "gs": gs, CREDENTIAL_SOURCES: {"s3": s3_source, "gs": gs_source}}


# The environment a task pod sees, as the configuration items they stand for (first variable set wins). Flyte's
# sandbox sets the FLYTE_AWS_* ones; STORAGE_EMULATOR_HOST means anonymous GCS, as Google's libraries read it.
_POD_ENVIRONMENT = {
    "storage.connection.endpoint": ("FLYRUN_STORAGE_ENDPOINT", "FLYTE_AWS_ENDPOINT", "AWS_ENDPOINT_URL"),
    "storage.connection.access-key": ("FLYRUN_STORAGE_ACCESS_KEY", "FLYTE_AWS_ACCESS_KEY_ID"),
    "storage.connection.secret-key": ("FLYRUN_STORAGE_SECRET_KEY", "FLYTE_AWS_SECRET_ACCESS_KEY"),
    "storage.gcs.anonymous": ("STORAGE_EMULATOR_HOST",),
}


class _PodEnvironment:
    """The ``get``/``source`` of a ``flyrun.config.Config``, answered from environment variables."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def _variable(self, key: str) -> str | None:
        return next((name for name in _POD_ENVIRONMENT.get(key, ()) if self.environ.get(name)), None)

    def get(self, key: str) -> Any:
        name = self._variable(key)
        if name is None:
            return None
        return True if key == "storage.gcs.anonymous" else self.environ[name]

    def source(self, key: str) -> str:
        name = self._variable(key)
        return f"${name}" if name else "default"


def storage_options_from_environment(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The same options from the environment a task pod sees (``FLYRUN_STORAGE_*``, ``FLYTE_AWS_*``, ...)."""
    return storage_options_from_config(_PodEnvironment(environ), environ)


def _s3_options(config: Any, environ: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    options: dict[str, Any] = {}
    disable_ssl = bool(config.get("storage.connection.disable-ssl"))
    endpoint = config.get("storage.connection.endpoint")
    if endpoint:
        options["endpoint_url"] = endpoint if "://" in endpoint else \
            ("http://" if disable_ssl else "https://") + endpoint
    if disable_ssl:
        options["use_ssl"] = False
    region = config.get("storage.connection.region")
    if region:
        options["client_kwargs"] = {"region_name": region}
    key, secret = config.get("storage.connection.access-key"), config.get("storage.connection.secret-key")
    if config.get("storage.connection.auth-type") == "iam":
        return options, f"{aws_chain(environ)} (storage.connection.auth-type is iam)"
    if bool(key) != bool(secret):
        given, missing = ("access-key", "secret-key") if key else ("secret-key", "access-key")
        raise ConfigError(f"storage.connection.{given} is set (from "
                          f"{config.source('storage.connection.' + given)}) but storage.connection.{missing} "
                          "is not", hint="set both, or neither to use the AWS credential chain")
    if key:
        options["key"], options["secret"] = key, secret
        return options, f"storage.connection.access-key from {config.source('storage.connection.access-key')}"
    return options, aws_chain(environ)


def _gcs_options(config: Any, environ: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    options: dict[str, Any] = {}
    endpoint = config.get("storage.gcs.endpoint")
    if endpoint:
        options["endpoint_url"] = endpoint if "://" in endpoint else "http://" + endpoint
    anonymous_set = config.source("storage.gcs.anonymous") != "default"
    if config.get("storage.gcs.anonymous"):
        options["token"] = "anon"
        return options, f"anonymous (storage.gcs.anonymous from {config.source('storage.gcs.anonymous')})"
    if endpoint and not anonymous_set:
        # As Google's own client libraries do against an emulator.
        options["token"] = "anon"
        return options, "anonymous (an emulator endpoint is set)"
    return options, google_chain(environ)


def aws_chain(environ: Mapping[str, str]) -> str:
    """Which link of the standard AWS credential chain applies, as far as the environment tells."""
    if environ.get("AWS_ACCESS_KEY_ID"):
        return "AWS environment variables (AWS_ACCESS_KEY_ID)"
    if environ.get("AWS_PROFILE"):
        return f"AWS profile {environ['AWS_PROFILE']} (AWS_PROFILE)"
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return "AWS web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)"
    shared = environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(environ.get("HOME", "~"), ".aws",
                                                                        "credentials")
    if os.path.isfile(os.path.expanduser(shared)):
        return f"AWS shared credentials file {shared}"
    return "the AWS default chain (no keys in the environment; container or instance role, if any)"


def google_chain(environ: Mapping[str, str]) -> str:
    """Which link of Google's application default credentials applies, as far as the environment tells."""
    if environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return f"Google credentials file {environ['GOOGLE_APPLICATION_CREDENTIALS']} (GOOGLE_APPLICATION_CREDENTIALS)"
    config_home = environ.get("CLOUDSDK_CONFIG") or os.path.join(environ.get("HOME", "~"), ".config", "gcloud")
    adc = os.path.join(config_home, "application_default_credentials.json")
    if os.path.isfile(os.path.expanduser(adc)):
        return f"gcloud application default credentials ({adc})"
    return "Google application default credentials (none found locally; metadata server, if any)"


def describe_endpoint(protocol: str, storage_options: Mapping[str, Any]) -> str:
    options = storage_options.get(protocol) or {}
    if protocol == LOCAL:
        return "local disk"
    if protocol == "s3":
        return options.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3 (default endpoint)"
    if protocol == "gs":
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        return options.get("endpoint_url") or emulator or "https://storage.googleapis.com"
    return options.get("endpoint_url") or f"{protocol}://"


def describe_credentials(protocol: str, storage_options: Mapping[str, Any]) -> str:
    noted = (storage_options.get(CREDENTIAL_SOURCES) or {}).get(protocol)
    if noted:
        return noted
    options = storage_options.get(protocol) or {}
    if protocol == LOCAL:
        return "none needed"
    if protocol == "s3":
        return "key from storage options" if options.get("key") else aws_chain(os.environ)
    if protocol == "gs":
        return "anonymous" if options.get("token") == "anon" else google_chain(os.environ)
    return "fsspec defaults"


@contextlib.contextmanager
def storage_errors(action: str, uri: str, storage_options: Mapping[str, Any]) -> Iterator[None]:
    """Turn whatever a storage call raises into a ``StorageError`` naming the URI, endpoint and credentials."""
    try:
        yield
    except FlyrunError:
        raise
    except Exception as exc:
        raise storage_error(action, uri, storage_options, exc) from exc


def storage_error(action: str, uri: str, storage_options: Mapping[str, Any], exc: BaseException) -> StorageError:
    protocol = protocol_of(uri)
    reason, hint = _reason(exc)
    if isinstance(exc, FileNotFoundError) and protocol in ("s3", "gs") and _bucket_missing(uri, storage_options):
        reason, hint = f"bucket {_bucket(uri)} does not exist", "check the bucket name, and the endpoint if set"
    message = f"cannot {action} {uri}: {reason}"
    if protocol != LOCAL:
        message += (f" (endpoint {describe_endpoint(protocol, storage_options)}; credentials: "
                    f"{describe_credentials(protocol, storage_options)})")
    return StorageError(_scrub(message, storage_options), hint=hint)


def _bucket(uri: str) -> str:
    return uri.split("://", 1)[1].split("/", 1)[0]


def _bucket_missing(uri: str, storage_options: Mapping[str, Any]) -> bool:
    """Whether "not found" means the whole bucket: one more request, made only on the way to an error."""
    try:
        fs, _ = filesystem_for(uri, storage_options)
        return not fs.exists(_bucket(uri))
    except Exception:
        return False


def _reason(exc: BaseException) -> tuple[str, str | None]:
    kind = type(exc).__name__
    detail = _one_line(getattr(exc, "message", None) or str(exc))
    if isinstance(exc, FileNotFoundError):
        return "not found", None
    if isinstance(exc, PermissionError) or getattr(exc, "code", None) in (401, 403):
        return f"access denied: {detail or kind}", "check the credentials named here and their permissions"
    if kind in ("NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError"):
        return f"no credentials found: {detail}", ("set storage.connection.access-key and secret-key, or "
                                                     "configure the standard credential chain")
    if kind in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError",
                "ServerDisconnectedError") or isinstance(exc, ConnectionError):
        return f"cannot connect: {detail or kind}", "check the endpoint and the network"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory", "use FlyteDirectory for directories"
    if isinstance(exc, NotADirectoryError):
        return "it is not a directory", "use FlyteFile for files"
    return f"{kind}: {detail}" if detail else kind, None


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _scrub(text: str, storage_options: Mapping[str, Any]) -> str:
    # Backends do not echo secrets, but a message that ever did must not carry one on to a terminal or a log.
    for options in storage_options.values():
        if not isinstance(options, Mapping):
            continue
        for name in ("secret", "key", "token", "password"):
            value = options.get(name)
            if isinstance(value, str) and len(value) >= 4 and value != "anon":
                text = text.replace(value, "***")
    return text
