"""subject day definitions (see hexo_pipeline/defs/__init__.py)."""
