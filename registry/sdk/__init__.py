"""The Python client: one interface, direct (database) and HTTP transports."""
