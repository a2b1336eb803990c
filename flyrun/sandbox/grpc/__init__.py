"""FlyteAdmin's gRPC services (what pyflyte and flytectl speak), on the handlers the REST routes call."""
