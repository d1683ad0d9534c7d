"""Command-line front end (``sttdesk``)."""
