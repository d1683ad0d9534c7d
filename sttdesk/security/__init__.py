"""Who may talk to whom: CURVE key pairs, trust stores and pairing of coordinators with agents."""
