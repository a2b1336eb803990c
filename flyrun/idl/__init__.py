"""Flyte IDL: entities as flyteidl messages, literals, the code bundle, versions and the task entrypoint.

Everything here builds protojson-shaped dicts; protobuf and flyteidl are imported only inside the functions that
turn those dicts into messages or bytes, so importing this package stays cheap.
"""
