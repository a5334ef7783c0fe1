"""The web shell: the factory (app/factory.py), login, the guard's screens, verification, the dashboard."""
