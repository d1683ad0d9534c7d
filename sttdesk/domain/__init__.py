"""Pure-Python domain layer: stdlib only, imports nothing else of sttdesk's."""
