"""adcp: the protocol at our edges — webhook signatures, payload schemas and (worker side) the agent client."""
