"""Demo data: two properties side by side. Idempotent: every row is looked up before it is added."""
import random
from datetime import date, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from kernel import attachments
from kernel.clock import today as desk_today
from kernel.db import db
from kernel.identity import Membership, Property, Role, StaffUser, hash_password
from kernel.validators import check_character
from models.desk import RepairOrder
from models.master import Department, FeeItem, Resident, Shift, Unit
from models.permits import GoodsPass, HotWorkPermit, WorkerPass
from seeds.base import load_base
from seeds.extras import desk_and_permits
from seeds.samples import image, pdf

DEMO_PASSWORD = "demo1234"
PROPERTIES = [
    dict(code="A", name="翠湖花园", address="深圳市南山区翠湖路88号", service_phone="0755-86001234"),
    dict(code="B", name="云顶华庭", address="深圳市福田区云顶路16号", service_phone="0755-83005678"),
]
DEMO_USERS = [  # username, full name, role: all at the first property
    ("clerk", "李晓梅", "clerk"), ("cs_admin", "王建国", "cs_admin"), ("supervisor", "陈静", "supervisor"),
    ("manager", "张伟", "manager"), ("engineering", "刘强", "engineering"), ("safety", "赵军", "safety"),
    ("finance", "孙丽", "finance"), ("guard", "周勇", "guard"), ("it", "吴磊", "it"),
]
SHIFTS = [("early", "早班", time(7, 30), time(15, 30)), ("middle", "中班", time(9, 30), time(17, 30)),
          ("late", "晚班", time(12, 0), time(20, 0))]
FEES = [  # code, name, per, amount (source 篇5 §2, §8)
    ("worker_pass_deposit", "出入证押金", "人", "100"), ("worker_pass_fee", "出入证工本费", "人", "5"),
    ("network_reactivation", "网络复机手续费", "次", "20"), ("network_unlimited", "网络包月(不限时)", "月", "180"),
    ("network_60h", "网络60小时套餐", "月", "30"), ("function_card", "功能卡", "张", "20"),
    ("reclaimed_water", "中水", "吨", "3.5"), ("cleaning_standard", "家居清洁(标准)", "人·小时", "40"),
    ("cleaning_deep", "家居深度清洁", "人·小时", "60"), ("renovation_extension", "装修延期管理费", "月", "200"),
    ("management_fee", "物业管理费", "㎡·月", "3.8"),
]
DEPARTMENTS = [
    ("工程部", "engineering", "刘强"),
    ("保安部", "security", "周勇"),
    ("财务部", "finance", "孙丽"),
    ("行政人事部", "admin", "何芳"),
    ("保洁公司", "cleaning", "马班长"),
    ("电信部门", "telecom", "电信营业厅"),
    ("网通公司", "isp", "网通客户经理"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "强",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
]


def _get_or_add(model, lookup: dict, **values):
    obj = db.session.scalar(select(model).filter_by(**lookup))
    if obj is None:
        obj = model(**lookup, **values)
        db.session.add(obj)
        db.session.flush()
        _get_or_add.added += 1
    return obj


_get_or_add.added = 0


def id_number(rng: random.Random) -> str:
    body = f"440305{rng.randint(1960, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + check_character(body)


def load_demo() -> int:
    added = load_base()
    _get_or_add.added = 0
    roles = {r.code: r for r in db.session.scalars(select(Role))}
    props = [_get_or_add(Property, {"code": p["code"]}, **{k: v for k, v in p.items() if k != "code"})
             for p in PROPERTIES]
    pw = hash_password(DEMO_PASSWORD)

    def user(username, full_name, memberships):
        u = _get_or_add(StaffUser, {"username": username}, full_name=full_name, password_hash=pw)
        for prop, code in memberships:
            _get_or_add(Membership, {"user_id": u.id, "property_id": prop.id, "role_id": roles[code].id})
        return u

    for username, name, code in DEMO_USERS:
        user(username, name, [(props[0], code)])
    # company-wide oversight (totals and deadlines per property), not an approver at either property
    user("regional", "黄海", [(props[0], "regional"), (props[1], "regional")])
    # the second property's own desk, so the two sit side by side
    for username, name, code in [("clerk_b", "林小雨", "clerk"), ("supervisor_b", "郭敏", "supervisor"),
                                 ("manager_b", "罗刚", "manager"), ("engineering_b", "高杰", "engineering")]:
        user(username, name, [(props[1], code)])

    layouts = {"A": (4, 2, 25, 1), "B": (2, 2, 18, 2)}  # buildings, entrances, floors, rooms per floor
    today = desk_today()  # the desk's calendar (Asia/Shanghai), not the server's
    for prop in props:
        pid = prop.id
        for code, name, start, end in SHIFTS:
            _get_or_add(Shift, {"property_id": pid, "code": code}, name=name, starts_at=start, ends_at=end)
        for code, name, per, amount in FEES:
            _get_or_add(FeeItem, {"property_id": pid, "code": code}, name=name, unit_of_charge=per,
                        amount=Decimal(amount), effective_from=date(2026, 1, 1))
        for name, kind, contact in DEPARTMENTS:
            _get_or_add(Department, {"property_id": pid, "name": name}, kind=kind, contact=contact)
        if db.session.scalar(select(func.count()).select_from(Unit).where(Unit.property_id == pid)):
            continue
        rng = random.Random(prop.code)
        buildings, entrances, floors, per_floor = layouts[prop.code]
        for b in range(1, buildings + 1):
            for e in range(1, entrances + 1):
                for f in range(1, floors + 1):
                    for r in range(1, per_floor + 1):
                        room = f"{f}{r:02d}"
                        status = rng.choices(["occupied", "vacant", "renovating"], [80, 12, 8])[0]
                        unit = Unit(property_id=pid, code=f"{b}-{e}-{room}", building=str(b), entrance=str(e),
                                    room=room, floor_area=Decimal(rng.choice(["89.50", "112.30", "136.80", "158.20"])),
                                    status=status)
                        db.session.add(unit)
                        _get_or_add.added += 1
                        if status == "vacant":
                            continue
                        db.session.flush()
                        owner = Resident(property_id=pid, unit_id=unit.id, kind="owner",
                                         name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                                         phone=f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                                         id_number=id_number(rng),
                                         move_in_date=today - timedelta(days=rng.randint(30, 2000)))
                        db.session.add(owner)
                        _get_or_add.added += 1
                        if rng.random() < 0.2:
                            db.session.add(Resident(property_id=pid, unit_id=unit.id, kind="tenant",
                                                    name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                                                    phone=f"15{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                                                    id_number=id_number(rng),
                                                    owner_authorisation=rng.random() < 0.7,
                                                    move_in_date=today - timedelta(days=rng.randint(10, 700))))
                            _get_or_add.added += 1
    db.session.commit()
    desk_and_permits(props)
    db.session.commit()
    demo_attachments()
    db.session.commit()
    return added + _get_or_add.added


# generated sample files (drawn cards and a one-page PDF, no personal data) on the records that take them
DEMO_FILES = {
    WorkerPass: [("id_copy", "身份证复印件.png", lambda: image("PNG", text="ID COPY (SAMPLE)")),
                 ("photo", "一寸照片.jpg", lambda: image("JPEG", (180, 240), (90, 90, 90), "PHOTO"))],
    GoodsPass: [("id_copy", "运出人身份证.pdf", lambda: pdf("CARRIER ID COPY (SAMPLE)"))],
    HotWorkPermit: [("welder_certificate", "焊工证.jpg", lambda: image("JPEG", text="WELDER CERT (SAMPLE)")),
                    ("id_copy", "动火人身份证.pdf", lambda: pdf("WELDER ID COPY (SAMPLE)"))],
    RepairOrder: [("repair_sheet", "维修单.pdf", lambda: pdf("REPAIR SHEET (SAMPLE)"))],
}


def demo_attachments() -> int:
    """Sample files on the demo's passes, permits and closed repair orders (idempotent: a record with files is
    left alone)."""
    added = 0
    for model, files in DEMO_FILES.items():
        query = select(model).order_by(model.id)
        if model is RepairOrder:
            query = query.where(model.state == "closed")
        for record in db.session.scalars(query).all():
            if attachments.kinds_present(db.session, record):
                continue
            prepared = [attachments.prepare(kind, name, make()) for kind, name, make in files]
            attachments.store(db.session, record, prepared, record.created_by_id)
            added += len(prepared)
    return added
