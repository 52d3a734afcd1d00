"""tap-exec tests: against the simulator, over HTTP on loopback."""
