"""Saved views: a list's filters, search and sort kept under a name (issue 17).

A view belongs to the user who saved it, at one property. A supervisor or IT may share it with a role at that
property; everyone holding that role there then finds it in the menu under its register. A view is data like any
record: scoped by property, its creation, sharing and deletion audited by the session hooks (`Register`).

The filters are kept by what they mean (column and operation), not by their position in the URL, so a screen
that adds a filter does not change what an old view shows; one whose column or filter has gone is opened
without it, with a message (app/admin/saved.py).
"""
from __future__ import annotations

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped

from kernel.db import db
from kernel.i18n import T
from kernel.register import PropertyScoped, Register, Tracked, field


class SavedView(PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "saved_view"
    __label__ = T("保存的视图", "Saved views")
    kept = True  # the header menu and the 视图 menu list them on every page
    register: Mapped[str] = field(T("登记簿", "Register"), String(40), nullable=False)
    name: Mapped[str] = field(T("名称", "Name"), String(80), nullable=False)
    spec: Mapped[str] = field(T("条件", "Conditions"), Text, nullable=False)  # JSON: filters, search, sort, switches
    shared_role: Mapped[str | None] = field(T("共享给角色", "Shared with role"), String(20))
    __table_args__ = (Index("ix_saved_view_property_register", "property_id", "register"),)

    def __str__(self) -> str:
        return self.name
