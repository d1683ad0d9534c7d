"""whisper.cpp engine in a child process; model catalog, store, download, convert, quantize."""
