"""``from flyrun.core.node_creation import create_node``, as ``flytekit.core.node_creation``."""

from flyrun.sdk.graph import create_node

__all__ = ["create_node"]
