"""A REST client for FlyteAdmin's v1 API (and ``flyrun sandbox``), JSON in protojson form.

Routes and shapes follow ../shared/reference/flyteidl/*.swagger.json. Every call goes through an
``AdminSession`` (flyrun.remote.session): base URL, TLS, the bearer token, and the mapping of HTTP errors to
flyrun errors (404 -> NotFoundError, 409 -> AlreadyExistsError, 400 -> InvalidArgumentError, all exit 2;
401/403 -> exit 4; anything else -> exit 5).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flyrun.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError, UsageError
from flyrun.remote import protobody
from flyrun.remote.session import raise_for_status

ENTITY_ROUTES = {"TASK": "tasks", "WORKFLOW": "workflows", "LAUNCH_PLAN": "launch_plans"}


@dataclass(frozen=True)
class EntityId:
    resource_type: str  # TASK | WORKFLOW | LAUNCH_PLAN
    project: str
    domain: str
    name: str
    version: str

    def as_dict(self) -> dict[str, str]:
        return {"resource_type": self.resource_type, "project": self.project, "domain": self.domain,
                "name": self.name, "version": self.version}

    @property
    def path(self) -> str:
        return "/".join(quote(part, safe="") for part in (self.project, self.domain, self.name, self.version))

    def __str__(self) -> str:
        return f"{self.resource_type.lower()} {self.project}/{self.domain}/{self.name}@{self.version}"


@dataclass(frozen=True)
class ExecutionId:
    project: str
    domain: str
    name: str

    def as_dict(self) -> dict[str, str]:
        return {"project": self.project, "domain": self.domain, "name": self.name}

    @property
    def path(self) -> str:
        return "/".join(quote(part, safe="") for part in (self.project, self.domain, self.name))

    def __str__(self) -> str:
        return f"{self.project}/{self.domain}/{self.name}"


class AdminClient:
    def __init__(self, session: Any) -> None:
        self.session = session
        # Whether the server takes binary protobuf registration bodies; None until asked (once per client).
        self._protobuf: bool | None = None

    def debug(self, text: str) -> None:
        """A ``-v`` line through the session (never a token, query string or body)."""
        getattr(self.session, "debug", lambda _text: None)(text)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self.session.json(method, path, **kwargs)
        except UsageError as error:
            error.message = f"{what}: {error.message}"
            raise

    # -- server --------------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        return self._call("GET", "/api/v1/version", "version")

    def list_projects(self) -> list[dict[str, Any]]:
        return self._call("GET", "/api/v1/projects", "projects").get("projects", [])

    # -- tasks, workflows, launch plans --------------------------------------------------------
    def create_entity(self, entity_id: EntityId, spec: dict[str, Any]) -> bool:
        """Register an entity; False when an identical one exists (409), an error when a different one does."""
        route = ENTITY_ROUTES[entity_id.resource_type]
        body = {"id": entity_id.as_dict(), "spec": spec}
        try:
            if not self._post_binary(f"/api/v1/{route}", f"register {entity_id}", entity_id.resource_type, body):
                self._call("POST", f"/api/v1/{route}", f"register {entity_id}", json=body)
        except AlreadyExistsError:
            return False
        except InvalidArgumentError as error:
            if "different structure" in error.message or "already exists" in error.message:
                raise UsageError(f"{entity_id} is already registered with a different definition",
                                 hint="change the version (--version) or the code") from None
            raise
        return True

    def _post_binary(self, path: str, what: str, resource_type: str, body: dict[str, Any]) -> bool:
        """POST ``body`` as binary protobuf if the server takes it; False when it went (or must go) as JSON."""
        if self._protobuf is None:
            # Learned from any earlier answer (the upload locations come first), else from one version call.
            advertised = getattr(self.session, "accept_post", None)
            request = getattr(self.session, "request", None)
            if advertised is None and request is not None:
                answer = request("GET", "/api/v1/version")
                advertised = answer.headers.get("Accept-Post") if answer.status_code == 200 else None
            self._protobuf = protobody.takes_protobuf(advertised)
            self.debug(f"the server {'takes' if self._protobuf else 'does not take'} protobuf registration bodies")
        if not self._protobuf:
            return False
        data = protobody.create_request(resource_type, body)
        if data is None:
            return False
        response = self.session.request("POST", path, data=data, headers={
            "Content-Type": protobody.BINARY_TYPE, "Accept": "application/json"})
        if response.status_code == 415:  # advertised but refused (a proxy in between?): JSON from now on
            self._protobuf = False
            return False

        try:
            raise_for_status(response, self.session.endpoint, f"POST {path}")
        except UsageError as error:
            error.message = f"{what}: {error.message}"
            raise
        return True

    def get_entity(self, entity_id: EntityId) -> dict[str, Any]:
        route = ENTITY_ROUTES[entity_id.resource_type]
        return self._call("GET", f"/api/v1/{route}/{entity_id.path}", str(entity_id))

    def latest_version(self, resource_type: str, project: str, domain: str, name: str) -> str | None:
        route = ENTITY_ROUTES[resource_type]
        params = {"limit": 1, "sort_by.key": "created_at", "sort_by.direction": "DESCENDING"}
        path = "/".join(quote(p, safe="") for p in (project, domain, name))
        found = self._call("GET", f"/api/v1/{route}/{path}", f"{resource_type.lower()} {name}", params=params)
        entities = found.get(route, [])
        return entities[0]["id"]["version"] if entities else None

    def list_entities(self, resource_type: str, project: str, domain: str) -> Iterator[dict[str, Any]]:
        """Every version of every entity of one kind in a project and domain, newest first."""
        route = ENTITY_ROUTES[resource_type]
        path = f"/api/v1/{route}/{quote(project, safe='')}/{quote(domain, safe='')}"
        token = ""
        while True:
            params = {"limit": 100, "sort_by.key": "created_at", "sort_by.direction": "DESCENDING"}
            page = self._call("GET", path, f"{route} in {project}/{domain}",
                              params={**params, **({"token": token} if token else {})})
            yield from page.get(route, [])
            token = page.get("token") or ""
            if not token:
                return

    def update_launch_plan_state(self, entity_id: EntityId, state: str) -> None:
        self._call("PUT", f"/api/v1/launch_plans/{entity_id.path}", f"activate {entity_id}",
                   json={"id": entity_id.as_dict(), "state": state})

    # -- executions ------------------------------------------------------------------------------
    def create_execution(self, project: str, domain: str, name: str | None, spec: dict[str, Any],
                         inputs: dict[str, Any]) -> ExecutionId:
        body: dict[str, Any] = {"project": project, "domain": domain, "spec": spec, "inputs": inputs}
        if name:
            body["name"] = name
        created = self._call("POST", "/api/v1/executions", "create execution", json=body)
        ident = created.get("id", {})
        return ExecutionId(ident.get("project", project), ident.get("domain", domain), ident.get("name", name))

    def _on_execution(self, method: str, path: str, execution: ExecutionId, what: str,
                      **kwargs: Any) -> dict[str, Any]:
        """A call about one execution; a 404 says that the execution does not exist."""
        try:
            return self.session.json(method, path, **kwargs)
        except NotFoundError:
            raise NotFoundError(f"no execution {execution.name} in {execution.project}/{execution.domain}",
                                hint="list recent ones with `flyrun executions list`") from None
        except UsageError as error:
            error.message = f"{what} {execution.name}: {error.message}"
            raise

    def get_execution(self, execution: ExecutionId) -> dict[str, Any]:
        return self._on_execution("GET", f"/api/v1/executions/{execution.path}", execution, "execution")

    def list_executions(self, project: str, domain: str, limit: int = 20) -> list[dict[str, Any]]:
        params = {"limit": limit, "sort_by.key": "created_at", "sort_by.direction": "DESCENDING"}
        path = f"/api/v1/executions/{quote(project, safe='')}/{quote(domain, safe='')}"
        return self._call("GET", path, "executions", params=params).get("executions", [])

    def child_executions(self, execution: ExecutionId, limit: int = 200) -> list[dict[str, Any]]:
        """The executions launched from ``execution`` (launch plan nodes, an eager body's calls), oldest first.

        Asked with flyrun's ``parent_execution`` filter; a server without it (FlyteAdmin) gives an empty list.
        """
        params = {"limit": limit, "sort_by.key": "created_at", "sort_by.direction": "ASCENDING",
                  "filters": f"eq(parent_execution,{execution.name})"}
        path = f"/api/v1/executions/{quote(execution.project, safe='')}/{quote(execution.domain, safe='')}"
        try:
            return self.session.json("GET", path, params=params).get("executions", [])
        except InvalidArgumentError:
            return []

    def terminate_execution(self, execution: ExecutionId, cause: str) -> None:
        self._on_execution("DELETE", f"/api/v1/executions/{execution.path}", execution, "terminate",
                           json={"id": execution.as_dict(), "cause": cause})

    def execution_data(self, execution: ExecutionId) -> dict[str, Any]:
        return self._on_execution("GET", f"/api/v1/data/executions/{execution.path}", execution, "data of")

    def node_executions(self, execution: ExecutionId, parent: str | None = None) -> Iterator[dict[str, Any]]:
        """The execution's top-level nodes, or the children of node ``parent`` (its unique id)."""
        token = ""
        while True:
            params: dict[str, Any] = {"limit": 100, **({"token": token} if token else {})}
            if parent:
                params["unique_parent_id"] = parent
            page = self._call("GET", f"/api/v1/node_executions/{execution.path}", f"nodes of {execution}",
                              params=params)
            yield from page.get("node_executions", [])
            token = page.get("token") or ""
            if not token:
                return

    # -- signals -----------------------------------------------------------------------------------
    def set_signal(self, execution: ExecutionId, signal_id: str, value: dict[str, Any]) -> None:
        body = {"id": {"signal_id": signal_id, "execution_id": execution.as_dict()}, "value": value}
        self._call("POST", "/api/v1/signals", f"signal {signal_id} of {execution}", json=body)

    def list_signals(self, execution: ExecutionId) -> list[dict[str, Any]]:
        page = self._call("GET", f"/api/v1/signals/{execution.path}", f"signals of {execution}",
                          params={"limit": 100})
        return page.get("signals", [])

    # -- data proxy --------------------------------------------------------------------------------
    def create_upload_location(self, project: str, domain: str, filename: str, content_md5_b64: str | None,
                               filename_root: str | None = None) -> dict[str, Any]:
        """A signed URL to PUT ``filename`` to; without a hash, a 409 tells that the object already exists."""
        body: dict[str, Any] = {"project": project, "domain": domain, "filename": filename}
        if content_md5_b64:
            body.update(content_md5=content_md5_b64, add_content_md5_metadata=True)
        if filename_root:
            body["filename_root"] = filename_root
        return self._call("POST", "/api/v1/dataproxy/artifact_urn", f"upload location for {filename}", json=body)
