"""Issue #12 rule 11: identity copies where the source asks for them (篇5 §7 d network opening: 收下业户身份证复印件;
§8 b every network change: 正确填写变更表，并收下业户身份证复印件). The declaration (NetworkRequest.documents: id_copy
required before send_to_isp) holds for every kind of request, not only the opening."""
from sqlalchemy import select, update

from kernel.db import db
from models.desk import NETWORK_KIND, NetworkRequest
from models.master import Department
from tests.helpers import attach


def test_rule_11_network_opening_and_every_change_need_the_id_copy_before_the_isp(app, world, client_as):
    with app.app_context():
        db.session.execute(update(Department).where(Department.kind == "isp").values(email="isp@example.com"))
        db.session.commit()
    c = client_as("clerk")
    owner, unit = world.residents[("A", "owner")], world.units[("A", "1-1-101")]
    assert set(NETWORK_KIND) == {"open", "change_tariff", "pause", "terminate", "change_account", "add_info",
                                 "reactivate"}  # the opening (§7) and the changes §8 lists
    for kind in NETWORK_KIND:
        r = c.post("/admin/network_request/new/", {"kind": kind, "unit": unit, "resident": owner,
                                                   "tariff": "network_unlimited", "account": "cpn001"})
        assert r.status_code == 302, (kind, r.get_data(as_text=True)[-800:])
    with app.app_context():
        reqs = {r.kind: r.id for r in db.session.scalars(select(NetworkRequest))}
    page = c.post("/admin/network_request/action/", {"action": "send_to_isp", "rowid": list(reqs.values())},
                  follow_redirects=True).get_data(as_text=True)
    assert "完成 0 条，跳过 7 条" in page
    assert page.count("请先上传“业户身份证复印件”再发送网通") == 7
    with app.app_context():
        attach(db.session.get(NetworkRequest, reqs["change_account"]), "id_copy")
    page = c.post("/admin/network_request/action/", {"action": "send_to_isp", "rowid": list(reqs.values())},
                  follow_redirects=True).get_data(as_text=True)
    assert "已将 1 条申请加入发送队列" in page and page.count("请先上传“业户身份证复印件”再发送网通") == 6
    with app.app_context():
        assert db.session.get(NetworkRequest, reqs["change_account"]).id_copy_received
        assert not db.session.get(NetworkRequest, reqs["open"]).id_copy_received
