"""FlyteAdmin's API over the state store: REST routes, wire format, registration, executions, data proxy."""
