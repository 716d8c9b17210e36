"""The files the sandbox emits and accepts: WAV / .hxd / zip, JSON and CSV data, TCX / FIT activities and
workouts, and the TCX / FIT uploads of /api/import/. Bytes in, bytes out: no Flask, no HTTP."""
