"""The guard every register's screen goes through (guard.py) and its collaborators."""
from app.admin.access import SignedInPage, endpoint, login_redirect
from app.admin.daily import DailySheet
from app.admin.guard import RegisterView
from app.admin.steps import report

__all__ = ["DailySheet", "RegisterView", "SignedInPage", "endpoint", "login_redirect", "report"]
