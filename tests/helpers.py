
from sqlalchemy import select

from kernel.db import db


def latest(model):
    db.session.remove()
    return db.session.scalar(select(model).order_by(model.id.desc()).limit(1))


def reload(model, rid):
    db.session.remove()
    return db.session.get(model, rid)



def version_of(register, rid):
    from kernel.register import model_for
    obj = reload(model_for(register), rid)
    return obj.version if obj is not None else ""


def step(c, register, name, rid, **data):
    """Take a step as its form on the details page would: with the record's current row version."""
    with c.app.app_context():
        version = version_of(register, rid)
    return c.post(f"/admin/{register}/transition/{name}/", {"id": rid, "row_version": version, **data},
                  follow_redirects=True)


def upload(name="scan.png", data=None):
    """One file as a form posts it (a fresh stream each call: a posted stream is read once)."""
    import io

    from seeds.samples import image
    return (io.BytesIO(image() if data is None else data), name)


def attach(record, *kinds, data=None):
    """Files of these kinds on a record made by a factory (as if uploaded on its form); commits."""
    from kernel import attachments
    from seeds.samples import image
    prepared = [attachments.prepare(kind, f"{kind}.png", data or image()) for kind in kinds]
    rows = attachments.store(db.session, record, prepared, None)
    db.session.commit()
    return rows


def list_table(page: str) -> str:
    """The rows of a list page only (its table), not the flashed messages above it: the flash after saving a
    new record names its number (app/admin/entry.py), which says nothing about what the list holds."""
    start = page.find("<table class=\"table table-striped table-bordered table-hover model-list")
    return page[start:page.find("</table>", start)] if start >= 0 else ""
