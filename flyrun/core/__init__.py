"""Mirrors of flytekit.core paths that flytekit's documented examples import from."""
