"""Plain-Python ingestion steps (API -> lake tables) that the Dagster assets call."""
