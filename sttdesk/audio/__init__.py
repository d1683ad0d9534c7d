"""Audio ingest: probe, decode with ffmpeg, silence-aware chunking."""
