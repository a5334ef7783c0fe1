"""The web shell: the factory (app/factory.py), login, the guard's screens, verification, the dashboard."""

__version__ = "0.9.0"  # written into every backup's manifest; raise it with each release
