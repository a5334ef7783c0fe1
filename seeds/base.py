"""What every install needs before its first account: the roles and the deadline rules. Idempotent."""
from __future__ import annotations

from sqlalchemy import select

from kernel import attachments
from kernel.db import db
from kernel.deadlines import DeadlineRule
from kernel.identity import Role
from kernel.permissions import ROLES
from kernel.register import registers
from kernel.retention import RetentionRule


def get_or_add(model: type, lookup: dict, **values: object) -> tuple[object, bool]:
    obj = db.session.scalar(select(model).filter_by(**lookup))
    if obj is not None:
        return obj, False
    obj = model(**lookup, **values)
    db.session.add(obj)
    db.session.flush()
    return obj, True


def load_base() -> int:
    """Roles from kernel.permissions, one deadline rule per declared deadline (with its default minutes), one
    retention rule per register that keeps personal data (with its default days), and one for its personal
    documents (ID copies, photos: kernel.attachments)."""
    added = 0
    for code, (label, wide) in ROLES.items():
        added += get_or_add(Role, {"code": code}, name=label.zh, company_wide=wide)[1]
    for model in registers().values():
        for d in getattr(model, "deadlines", ()):
            added += get_or_add(DeadlineRule, {"code": d.code}, name=f"{model.__label__.zh}：{d.label.zh}",
                                minutes=d.minutes)[1]
        if getattr(model, "retention", None) is not None:
            added += get_or_add(RetentionRule, {"register": model.__tablename__},
                                name=f"{model.__label__.zh}：身份证号", days=model.retention.days)[1]
        kept = attachments.retention_of(model)
        if kept is not None and any(d.personal for d in attachments.documents_of(model)):
            added += get_or_add(RetentionRule, {"register": attachments.rule_key(model)},
                                name=f"{model.__label__.zh}：证件复印件/照片", days=kept.days)[1]
    db.session.commit()
    return added
