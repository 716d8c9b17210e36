"""The HTTP side: the Flask app emulating the Hexoskin API (Tastypie), authentication, permissions, faults,
the running state, the endpoint modules (`api_*`) and `serve`."""
