"""The one Qt-free API every front end uses: JobService, its timers and the local agent pool."""
