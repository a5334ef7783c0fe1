from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.timeutil import travel


def latest(model):
    db.session.remove()
    return db.session.scalar(select(model).order_by(model.id.desc()).limit(1))


def reload(model, rid):
    db.session.remove()
    return db.session.get(model, rid)


def minutes_later(n):
    travel(timedelta(minutes=n))


def flashes(response):
    return response.get_data(as_text=True)
