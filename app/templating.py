"""Helpers every template may use (labels in the current language, the header's property switch)."""
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app import permissions, scoping
from app.i18n import T, is_english


def install(app):
    @app.context_processor
    def helpers():
        return dict(fd_t=lambda zh, en: en if is_english() else zh, fd_is_english=is_english,
                    fd_brand=lambda: str(T("物业客服前台", "FrontDesk")), csrf_token=generate_csrf,
                    fd_property_choices=_property_choices, fd_current_property_value=_current_value,
                    fd_role_labels=_role_labels, fd_role_label=lambda c: str(permissions.ROLES.get(c, (c,))[0]),
                    fd_history_value=_history_value)


def _property_choices():
    from app.extensions import db
    from models.core import Property
    ids = scoping.user_property_ids()
    props = db.session.query(Property).filter(Property.id.in_(ids)).order_by(Property.id).all()
    choices = [(p.id, p.name) for p in props]
    if scoping.is_company_wide():
        choices.append((scoping.ALL_PROPERTIES, str(T("全部项目", "All properties"))))
    return choices


def _current_value():
    pid = scoping.current_property_id()
    return scoping.ALL_PROPERTIES if pid is None else pid


def _role_labels():
    if not current_user.is_authenticated:
        return ""
    return "、".join(str(permissions.ROLES[r][0]) for r in sorted(scoping.current_roles()) if r in permissions.ROLES)


def _history_value(view, key, value, pii):
    """An audit value as the register shows it: labels for states and choices, ID numbers masked (see RegisterView)."""
    if value is None:
        return "—"
    if key not in view.model.__table__.c:
        return value
    return view._value_text(key)(value)
