"""sttdesk: offline speech-to-text on your own PCs, with whisper.cpp."""

__version__ = "0.1.0"
