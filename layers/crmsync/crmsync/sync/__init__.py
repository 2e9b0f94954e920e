"""Use cases: each drives the ports to carry out one thing a user asks of the connector."""
