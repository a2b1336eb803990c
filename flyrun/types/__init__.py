"""Python type <-> Flyte literal: the engine and one module per family of types."""
