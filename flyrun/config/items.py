"""The one table of configuration items.

Each row names a key in Flyte's YAML format, its type, its default and the environment variables that override
it. Loading, validation, environment overrides and ``flyrun config show`` are all driven by this table.

Kinds: ``str``, ``bool``, ``int``, ``list`` (YAML list, or a comma/space separated string), ``command`` (YAML list,
or a shell-quoted string), ``map``, ``choice``, ``duration`` (seconds, or Go-style ``1m30s``; held as float
seconds) and ``endpoint`` (``dns:///host[:port]``, ``host[:port]`` or an ``http(s)://`` URL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AUTH_TYPES = ("Pkce", "DeviceFlow", "ClientSecret", "ExternalCommand", "None")
# Flyte spells some auth types more than one way; all of them name one of ours.
AUTH_TYPE_ALIASES = {
    "pkce": "Pkce",
    "standard": "Pkce",
    "deviceflow": "DeviceFlow",
    "clientsecret": "ClientSecret",
    "client_credentials": "ClientSecret",
    "basic": "ClientSecret",
    "externalcommand": "ExternalCommand",
    "external_process": "ExternalCommand",
    "none": "None",
}


@dataclass(frozen=True)
class ConfigItem:
    key: str
    kind: str
    default: Any = None
    env: tuple[str, ...] = ()
    secret: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    aliases: dict[str, str] = field(default_factory=dict)


ITEMS: tuple[ConfigItem, ...] = (
    ConfigItem("admin.endpoint", "endpoint", None, ("FLYRUN_ADMIN_ENDPOINT", "FLYTE_PLATFORM_URL"),
               help="FlyteAdmin endpoint, e.g. dns:///flyte.example.com or localhost:30080"),
    ConfigItem("admin.insecure", "bool", False, ("FLYRUN_ADMIN_INSECURE", "FLYTE_PLATFORM_INSECURE"),
               help="use plain http instead of https"),
    ConfigItem("admin.insecureSkipVerify", "bool", False, ("FLYRUN_ADMIN_INSECURE_SKIP_VERIFY",),
               help="skip TLS certificate verification"),
    ConfigItem("admin.caCertFilePath", "str", None, ("FLYRUN_ADMIN_CA_CERT_FILE_PATH",),
               help="a CA bundle to verify the server with"),
    ConfigItem("admin.httpProxyURL", "str", None, ("FLYRUN_ADMIN_HTTP_PROXY_URL",),
               help="a proxy for every request (wins over HTTPS_PROXY; NO_PROXY still applies)"),
    ConfigItem("admin.authType", "choice", "Pkce", ("FLYRUN_ADMIN_AUTH_TYPE", "FLYTE_CREDENTIALS_AUTH_MODE"),
               choices=AUTH_TYPES, aliases=AUTH_TYPE_ALIASES, help="how to sign in"),
    ConfigItem("admin.clientId", "str", None, ("FLYRUN_ADMIN_CLIENT_ID", "FLYTE_CREDENTIALS_CLIENT_ID"),
               help="OAuth client id (default: the server's, from /config/v1/flyte_client)"),
    ConfigItem("admin.clientSecretLocation", "str", None, ("FLYRUN_ADMIN_CLIENT_SECRET_LOCATION",),
               help="a file holding the client secret"),
    ConfigItem("admin.clientSecretEnvVar", "str", None, ("FLYRUN_ADMIN_CLIENT_SECRET_ENV_VAR",),
               help="an environment variable holding the client secret"),
    ConfigItem("admin.scopes", "list", None, ("FLYRUN_ADMIN_SCOPES",), help="OAuth scopes to ask for"),
    ConfigItem("admin.audience", "str", None, ("FLYRUN_ADMIN_AUDIENCE",)),
    ConfigItem("admin.command", "command", None, ("FLYRUN_ADMIN_COMMAND",), help="a command that prints a token"),
    ConfigItem("admin.authorizationHeader", "str", None, ("FLYRUN_ADMIN_AUTHORIZATION_HEADER",),
               help="extra header for the token (default: the server's authorization_metadata_key)"),
    ConfigItem("admin.authorizationServerUrl", "str", None, ("FLYRUN_ADMIN_AUTHORIZATION_SERVER_URL",),
               help="where to find /.well-known/oauth-authorization-server (default: the endpoint)"),
    ConfigItem("admin.tokenUrl", "str", None, ("FLYRUN_ADMIN_TOKEN_URL",),
               help="the token endpoint (default: discovered)"),
    ConfigItem("admin.tokenRefreshWindow", "duration", 60.0, ("FLYRUN_ADMIN_TOKEN_REFRESH_WINDOW",),
               help="refresh a token this long before it expires"),
    ConfigItem("admin.pkceConfig.timeout", "duration", 120.0, ("FLYRUN_ADMIN_PKCE_TIMEOUT",),
               help="how long a browser sign-in may take"),
    ConfigItem("admin.disableKeyring", "bool", False, ("FLYRUN_ADMIN_DISABLE_KEYRING",),
               help="keep tokens in a 0600 file instead of the OS keyring"),
    ConfigItem("console.endpoint", "str", None, ("FLYRUN_CONSOLE_ENDPOINT",)),
    ConfigItem("storage.type", "choice", None, ("FLYRUN_STORAGE_TYPE",),
               choices=("s3", "minio", "gcs", "stow", "local", "mem")),
    ConfigItem("storage.container", "str", None, ("FLYRUN_STORAGE_CONTAINER",)),
    ConfigItem("storage.connection.endpoint", "str", None, ("FLYRUN_STORAGE_ENDPOINT", "FLYTE_AWS_ENDPOINT"),
               help="S3-compatible endpoint, e.g. http://localhost:9000 for MinIO"),
    ConfigItem("storage.connection.access-key", "str", None,
               ("FLYRUN_STORAGE_ACCESS_KEY", "FLYTE_AWS_ACCESS_KEY_ID"), secret=True),
    ConfigItem("storage.connection.secret-key", "str", None,
               ("FLYRUN_STORAGE_SECRET_KEY", "FLYTE_AWS_SECRET_ACCESS_KEY"), secret=True),
    ConfigItem("storage.connection.auth-type", "choice", None, ("FLYRUN_STORAGE_AUTH_TYPE",),
               choices=("accesskey", "iam")),
    ConfigItem("storage.connection.region", "str", None, ("FLYRUN_STORAGE_REGION",)),
    ConfigItem("storage.connection.disable-ssl", "bool", False, ("FLYRUN_STORAGE_DISABLE_SSL",)),
    ConfigItem("storage.gcs.endpoint", "str", None, ("FLYRUN_GCS_ENDPOINT", "STORAGE_EMULATOR_HOST"),
               help="a GCS-compatible endpoint (an emulator); access is then anonymous unless gcs.anonymous is false"),
    ConfigItem("storage.gcs.anonymous", "bool", False, ("FLYRUN_GCS_ANONYMOUS",),
               help="read and write gs:// without credentials (public buckets, emulators)"),
    ConfigItem("storage.raw-output-data-prefix", "str", None, ("FLYRUN_RAW_OUTPUT_DATA_PREFIX",),
               help="where task outputs (files, directories) are written"),
    ConfigItem("task.project", "str", "flytesnacks", ("FLYRUN_PROJECT", "FLYTE_DEFAULT_PROJECT")),
    ConfigItem("task.domain", "str", "development", ("FLYRUN_DOMAIN", "FLYTE_DEFAULT_DOMAIN")),
    ConfigItem("task.org", "str", None, ("FLYRUN_ORG",)),
    ConfigItem("images", "map", None, (), help="image name -> fully qualified image"),
    ConfigItem("cache.dir", "str", None, ("FLYRUN_CACHE_DIR",), help="the local task cache"),
    ConfigItem("compat", "choice", None, ("FLYRUN_COMPAT",), choices=("flytekit",),
               help="flytekit: import flytekit's names as flyrun's (as `flyrun run --flytekit-compat`)"),
    ConfigItem("sandbox.taskPool", "bool", True, ("FLYRUN_SANDBOX_TASK_POOL",),
               help="flyrun sandbox forks Python tasks from a warm zygote per code version (false: a fresh "
                    "process per task, as --no-task-pool)"),
)

ITEMS_BY_KEY = {item.key: item for item in ITEMS}
# Flyte's Go tools read YAML keys case-insensitively (viper), so a file written for flytectl may say `authtype`.
ITEMS_BY_LOWER_KEY = {item.key.lower(): item for item in ITEMS}
# Every section name that leads to an item ("admin", "storage", "storage.connection", ...).
SECTIONS = frozenset(item.key.lower().rsplit(".", n)[0] for item in ITEMS for n in range(1, item.key.count(".") + 1))

# Keys that Flyte's format defines and flyrun has no use for: accepted without a warning.
FLYTE_KEYS_IGNORED = (
    "admin.proxyCommand", "admin.deviceFlowConfig", "admin.pkceConfig", "admin.perRetryTimeout",
    "admin.maxRetries", "admin.maxBackoffDelay", "admin.maxMessageSizeBytes", "admin.useAuth",
    "admin.useAudienceFromAdmin", "admin.defaultServiceConfig",
    "logger", "storage.limits", "storage.stow", "storage.enable-multicontainer", "storage.cache",
    "storage.defaultHttpClient", "storage.signedUrl", "storage.connection.addressing-style",
    "console", "files", "otel", "plugins",
)
FLYTE_KEYS_IGNORED_LOWER = tuple(key.lower() for key in FLYTE_KEYS_IGNORED)
