"""hexo-pipeline: Hexoskin/Astroskin study data, from the REST API to an analysis-ready warehouse."""

__version__ = "0.1.0"
