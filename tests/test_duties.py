"""The second, independent table: who does what, written from the source's duties (not read from the grants).

The permission matrix (test_permission_matrix.py) proves the app enforces the declared grants; it cannot tell
whether a grant is right. This table is written apart, register by register, from ../shared/source/ (篇1 the desk's
duties, 篇2 §1-6, 篇3/4 the duty rules, 篇5 §1-12 the daily procedures) and DESIGN.md's roles, and is compared
with the effective grants (kernel.permissions.allowed) for every role x register x operation x step. A difference
fails naming role, register and operation, so a wrong grant is caught, not mirrored.

Vocabulary of this file only (deliberately not kernel.permissions' VIEW/READ/KEEP):
  see = list details            read = see + export
  enter = see + create edit     keep = enter + export
Steps are named as declared on the model (`@transition` method names). `void` is 作废 with a reason by those
who supervise the register; `void_own` is the creator's same-day typing mistake, open to whoever may create.
"""
import pytest

from kernel import permissions
from kernel.register import registers

SEE = "list details"
READ = f"{SEE} export"
ENTER = f"{SEE} create edit"
KEEP = f"{ENTER} export"


def ops(*parts: str) -> frozenset[str]:
    return frozenset(" ".join(parts).split())


# A desk register (篇1, 篇2 §1-3): the clerk records (创建/修改/导出), the CS admin too and handles what the clerk
# cannot (篇3 3.2); the supervisor reads every day and audits (3.1, 4.2.5), the manager reads (4.4.2). Nobody deletes:
# the CS admin or supervisor voids with a reason; the creator voids a same-day typing mistake.
# The time of receipt is the server's (issue 12, rule 2: 客观反映, 4.2.2); the supervisor, who audits the desk (3.1),
# corrects it with a reason (correct_time).
DESK = dict(clerk=ops(KEEP, "void_own"), cs_admin=ops(KEEP, "void void_own"), supervisor=ops(READ, "void correct_time"),
            manager=ops(READ))


def desk(**extra: str) -> dict[str, frozenset[str]]:
    table = dict(DESK)
    for role, more in extra.items():
        table[role] = table.get(role, frozenset()) | ops(more)
    return table


# An application (篇5 §1-5, §11-12): entered at the desk, reviewed and approved above it; voided by the CS admin
# or the manager who approves; the approvers read every application.
def application(**extra: str) -> dict[str, frozenset[str]]:
    table = dict(clerk=ops(KEEP, "void_own"), cs_admin=ops(KEEP, "void void_own"), engineering=ops(SEE),
                 supervisor=ops(READ), manager=ops(READ, "void"))
    for role, more in extra.items():
        table[role] = table.get(role, frozenset()) | ops(more)
    return table


EXPECTED: dict[str, dict[str, frozenset[str]]] = {
    # ------------------------------------------------------------------ system (IT: accounts, prices, shifts)
    "property": dict(it=ops(KEEP, "delete"), regional=ops(READ), manager=ops(SEE)),
    "role": dict(it=ops(SEE)),
    # IT's one duty: accounts. Delete only refers to a never-used account (the guard refuses a referenced one).
    "staff_user": dict(it=ops(KEEP, "delete import")),  # a new property's staff list (issue 18): IT keeps accounts
    # four eyes: IT asks, a manager of that property confirms or rejects
    "membership_grant": dict(it=ops(SEE), manager=ops(SEE, "confirm reject")),
    "deadline_rule": dict(it=ops(SEE, "edit"), supervisor=ops(SEE), manager=ops(SEE)),
    "retention_rule": dict(it=ops(SEE, "edit")),
    # being told (篇1, 4.2.3): everyone reads their own notifications; IT watches delivery and sends a failed one again
    "inbox": {role: ops(SEE) for role in ("clerk", "cs_admin", "supervisor", "manager", "engineering", "safety",
                                          "finance", "guard", "it", "regional")},
    "outbox": dict(it=ops(SEE, "edit")),
    # audit: the supervisor audits (3.1), the manager inspects (4.4.2); IT reads its own registers' rows
    "audit_log": dict(supervisor=ops(READ), manager=ops(READ), it=ops(SEE)),
    # ------------------------------------------------------------------ master data
    # import (issue 18): a new property's 房屋台账, 业户档案, departments and prices arrive as spreadsheets. The
    # CS admin keeps the department and resident files (篇2 §5 "负责部门及业/租户档案管理"), IT the master data
    # and prices (DESIGN: IT = fee and price tables); IT reads no personal data, so it does not import residents.
    "unit": dict(it=ops(KEEP, "delete import"), clerk=ops(SEE), cs_admin=ops(KEEP, "import"), supervisor=ops(READ),
                 manager=ops(READ), engineering=ops(SEE), finance=ops(SEE)),
    # 篇2 §5: the desk keeps the residents' file; the ID number is revealed by the desk only, with a reason;
    # erasing is asked by the CS admin and approved by the manager (anonymised, not deleted). Engineering does
    # not read the resident file (it gets unit and contact on the order), regional sees totals only.
    "resident": dict(clerk=ops(ENTER, "reveal"), cs_admin=ops(KEEP, "reveal request_erasure import"),
                     supervisor=ops(READ), manager=ops(READ, "approve_erasure refuse_erasure"), finance=ops(SEE)),
    "department": dict(it=ops(KEEP, "delete import"), cs_admin=ops(KEEP, "import"), clerk=ops(SEE), supervisor=ops(SEE),
                       manager=ops(SEE)),
    "shift": dict(it=ops(KEEP, "delete"), cs_admin=ops(SEE), supervisor=ops(SEE), manager=ops(SEE), clerk=ops(SEE)),
    # prices: IT keeps the table (a change is a new row; delete only a price never in force)
    "fee_item": dict(it=ops(KEEP, "delete import"), finance=ops(READ), clerk=ops(SEE), cs_admin=ops(SEE),
                     supervisor=ops(READ), manager=ops(READ), regional=ops(READ)),
    # money: finance records, confirms what the desk took, corrects by reversal (红冲); never edits
    "payment": dict(finance=ops(SEE, "create export confirm reverse"), clerk=ops(SEE), cs_admin=ops(SEE),
                    supervisor=ops(READ), manager=ops(READ)),
    # 篇5 §2 d-e: finance writes the receipt (enters it, voids a wrong one before it is used); the desk sees the
    # receipts to pick one for a pass or an extension, which strikes it 已办 (a system step, nobody's button)
    "receipt": dict(finance=ops(KEEP, "void void_own"), clerk=ops(SEE), cs_admin=ops(SEE), supervisor=ops(READ),
                    manager=ops(READ)),
    # ------------------------------------------------------------------ desk (篇1, 篇2, 篇5 §6-10)
    # 篇2 §4: 负责……物业管理费的收缴: the desk collects the fee and writes the receipt; finance confirms (reconciles the
    # money with the receipt) and books it; a wrong entry is voided by the CS admin or finance, with a reason.
    "fee_payment": dict(clerk=ops(KEEP, "void_own"), cs_admin=ops(KEEP, "void void_own"),
                        finance=ops(READ, "confirm void"), supervisor=ops(READ), manager=ops(READ)),
    "phone_log": desk(),
    # 3 minutes to engineering, urgent on site in 15, callback the same day; engineering marks arrival and result
    "repair_order": desk(clerk="dispatch tell_delay arrive complete call_back cancel",
                         cs_admin="dispatch tell_delay arrive complete call_back close cancel",
                         supervisor="close cancel", engineering=f"{SEE} arrive complete"),
    # an escalated complaint is answered by whoever it reached, up to the manager (4.2.3)
    "complaint": desk(clerk="forward give_reply", cs_admin="forward give_reply close",
                      supervisor="give_reply close", manager="give_reply close"),
    # 重大事件: reported at once to the supervisor/manager (篇1), who handle and close it
    "incident": desk(supervisor="record_handling close", manager="record_handling close"),
    "callback": desk(),
    "cleaning_booking": desk(finance=READ),
    "function_card": desk(finance=READ),
    "reclaimed_water_sale": desk(finance=READ),
    "telecom_registration": desk(),
    "utility_account": desk(),
    # finance collects the network fees on the ISP's behalf (篇5 §7 c, §8 c): the requests with a fee
    "network_request": desk(finance=SEE, clerk="reveal", cs_admin="reveal"),  # the owner's ID copy (篇5 §7 d)
    "mail_item": desk(clerk="notify pick_up", cs_admin="notify pick_up"),
    "move_in": desk(),
    "inspection_issue": desk(clerk="feed_back fix", cs_admin="feed_back fix", engineering=f"{SEE} fix"),
    # ------------------------------------------------------------------ passes and permits (篇5)
    # §1: registered at the desk, 值班主任 signs, 主任 stamps; the guard lets the goods out at the gate
    "goods_pass": dict(clerk=ops(KEEP, "reveal void_own"), cs_admin=ops(KEEP, "reveal sign void void_own"),
                       supervisor=ops(READ, "sign"), manager=ops(READ, "stamp void"), guard=ops("exit")),
    "renovation_permit": dict(clerk=ops(KEEP, "reveal void_own"), cs_admin=ops(KEEP, "reveal void_own"),
                              engineering=ops(SEE), finance=ops(SEE), supervisor=ops(READ),
                              manager=ops(READ, "approve reject void")),
    # §2: the desk issues and re-issues; g: the lead signs as 签收人, then finance stamps (财务处盖章, issue #12 rule
    # 9); the card comes back to the desk, the deposit back from finance
    "worker_pass": dict(clerk=ops(KEEP, "reveal issue reissue return_pass void_own"),
                        cs_admin=ops(KEEP, "reveal issue reissue return_pass void void_own"),
                        finance=ops(READ, "finance_stamp refund_deposit"), engineering=ops(SEE), supervisor=ops(READ),
                        manager=ops(READ, "void")),
    # §3: engineering reviews, the director approves, the desk registers the new date and re-makes the passes
    "renovation_extension": application(clerk="extend", cs_admin="extend", engineering="review reject",
                                        finance=SEE, manager="approve reject"),
    # §4: engineering reviews, the director approves, the desk files a copy
    "additional_works": application(clerk="archive", cs_admin="archive", engineering="review reject",
                                    manager="approve reject"),
    # §5: engineering AND safety review, the director approves; e: the desk writes the permit out (开具), the
    # director stamps it (交主任盖章), the desk files a copy and hands the original over. Voided (issue #12 rule 12)
    # by those who supervise hot work, the safety lead and the director, not by the CS admin.
    "hot_work_permit": dict(application(clerk="reveal prepare issue", cs_admin="reveal prepare issue",
                                        engineering="review_engineering reject",
                                        safety=f"{SEE} review_safety reject void", manager="approve reject stamp"),
                            cs_admin=ops(KEEP, "reveal prepare issue void_own")),
    # §11-12: fire elevator: engineering reviews, the admin on duty approves (a supervisor when the CS admin
    # entered it); the desk hands it to the lobby, which confirms the 承诺书
    "stair_elevator_use": application(clerk="hand_over", cs_admin="approve hand_over", engineering="review",
                                      supervisor="approve", guard=f"{SEE} confirm_letter"),
    # ------------------------------------------------------------------ duty (篇3/4)
    # 4.2.2-4.2.5: written by those on duty, read daily by the supervisor; no guard, no export by clerks
    # 4.2.3: an entry escalated to the CS admin, supervisor or manager is theirs to handle (handle_escalation)
    "duty_log": dict(clerk=ops(ENTER, "void_own"), cs_admin=ops(KEEP, "void void_own handle_escalation"),
                     supervisor=ops(READ, "mark_read void handle_escalation"), manager=ops(READ, "handle_escalation")),
    "duty_log_reading": dict(supervisor=ops(SEE), manager=ops(SEE), cs_admin=ops(SEE)),
    "checklist_item": dict(cs_admin=ops(KEEP, "delete"), it=ops(KEEP, "delete"), clerk=ops(SEE),
                           supervisor=ops(SEE)),
    # 4.3: outgoing and incoming sign (two people); when the rostered incoming does not come (4.3.1, 4.2.7), the CS
    # admin or the supervisor, who arrange the duty (3.1 人员调配), names a same-day substitute with the reason
    "handover": dict(clerk=ops(ENTER, "sign_out sign_in void_own"),
                     cs_admin=ops(KEEP, "sign_out sign_in name_substitute void void_own"),
                     supervisor=ops(READ, "name_substitute void"), manager=ops(READ)),
    # 4.1.1: the CS admin drafts by the 25th, the supervisor reviews, the manager files
    # 4.1.1: the CS admin drafts the month's roster; issue 18: drafted in a spreadsheet and imported into the grid
    "roster": dict(cs_admin=ops(KEEP, "submit void_own import"), supervisor=ops(READ, "review send_back void"),
                   manager=ops(READ, "file void"), clerk=ops(SEE)),
    # 4.2.6: asked of the supervisor, who approves and names the substitute
    "leave_request": dict(clerk=ops(ENTER, "void_own"), cs_admin=ops(ENTER, "void_own"),
                          supervisor=ops(READ, "approve reject void"), manager=ops(READ)),
    # 4.2.7: disciplinary evidence: recorded, never deleted; voided by the manager only
    "attendance_exception": dict(cs_admin=ops(KEEP, "void_own"), supervisor=ops(KEEP, "void_own"),
                                 manager=ops(READ, "void")),
    # 4.4.2-4.4.4: each inspector records their own checks
    "quality_check": dict(supervisor=ops(KEEP, "void void_own"), manager=ops(KEEP, "void void_own"),
                          cs_admin=ops(KEEP, "void_own")),
    # ------------------------------------------------------------------ pages
    # 篇2 §6: the clerk compiles the day's information for the supervisor
    "daily_summary": dict(clerk=ops(SEE), cs_admin=ops(SEE), supervisor=ops(SEE), manager=ops(SEE), regional=ops(SEE)),
    # company-wide oversight: totals and deadlines per property
    "overview": dict(regional=ops(SEE), manager=ops(SEE)),
    # issue 17: the supervisor reviews the desk's work (篇2: reads the logs, spot-checks), the manager oversees the
    # centre, the regional manager compares properties: totals as charts, never records
    "charts": dict(supervisor=ops(SEE), manager=ops(SEE), regional=ops(SEE)),
}


def effective(register: str, role: str) -> frozenset[str]:
    model = registers().get(register)
    steps = {n for n, t in (model.transitions if model is not None else {}).items() if not t.system}
    found = {op for op in permissions.OPERATIONS if permissions.allowed({role}, register, op)}
    found |= {s for s in steps if permissions.allowed({role}, register, f"transition:{s}")}
    return frozenset(found)


def every_register(app) -> list[str]:
    declared = set(permissions.grants()) | {n for n, m in registers().items() if m.transitions}
    return sorted(declared | set(EXPECTED))


def test_every_register_is_in_the_table(app):
    missing = [r for r in every_register(app) if r not in EXPECTED]
    assert not missing, f"registers without expectations from the duties: {missing}"


@pytest.mark.parametrize("role", sorted(permissions.ROLES))
def test_the_grants_are_the_duties(app, role):
    differences = []
    for register in every_register(app):
        want = EXPECTED.get(register, {}).get(role, frozenset())
        have = effective(register, role)
        differences += [f"{role} × {register} × {op}: granted, but not a duty" for op in sorted(have - want)]
        differences += [f"{role} × {register} × {op}: a duty, but not granted" for op in sorted(want - have)]
    assert not differences, "\n".join(differences)


def test_no_role_deletes_a_business_record(app):
    business = [n for n, m in registers().items() if "void" in (getattr(m, "states", None) or {})]
    assert len(business) == 29  # 15 desk registers, 7 passes and permits, 6 duty registers, finance's receipts
    deleting = [(r, n) for n in business for r in permissions.ROLES if permissions.allowed({r}, n, "delete")]
    assert deleting == []


def test_a_wrong_grant_is_caught_by_name(app, monkeypatch):
    """The table bites: a clerk allowed to delete residents is named, role, register and operation."""
    row = {role: set(ops) for role, ops in permissions.grants()["resident"].items()}
    row["clerk"].add("delete")
    monkeypatch.setitem(permissions.grants(), "resident", {r: frozenset(o) for r, o in row.items()})
    assert "delete" in effective("resident", "clerk") - EXPECTED["resident"]["clerk"]
