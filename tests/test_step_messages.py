"""Issue #12: the message a step shows (and sends) is its label in the past tense, built in one place
(kernel.workflow.Transition.done_label): never "已已告知…", "已已放行", "已经理收档" (reads 已经 + 理收档)."""
import pytest

from kernel.i18n import T
from kernel.register import registers
from kernel.workflow import ACTORS, past_tense
from models.desk import RepairOrder
from models.duty import Roster
from models.permits import GoodsPass
from tests.helpers import latest, step
from tests.test_permits import new_goods_pass


def every_step():
    return [(name, t) for name, model in sorted(registers().items())
            for t in getattr(model, "transitions", {}).values()]


def test_every_declared_steps_message_reads_in_the_past_tense_once(app):
    steps = every_step()
    assert len(steps) > 100
    bad = []
    for register, t in steps:
        zh = t.done_label.zh
        if "已已" in zh or "已" not in zh or any(zh.startswith(f"已{a}") for a in ACTORS) or zh.startswith("已经"):
            bad.append(f"{register}.{t.name}: {zh}")
        if not t.done_label.en.strip():
            bad.append(f"{register}.{t.name}: no English")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "label, message",
    [
        ("派工", "已派工"),
        ("已告知业主和管家延误", "已告知业主和管家延误"),
        ("放行", "已放行"),
        ("经理收档", "经理已收档"),
        ("值班主任签字", "值班主任已签字"),
        ("大堂确认收到承诺书", "大堂已确认收到承诺书"),
        ("工程主管审核", "工程主管已审核"),
        ("主任审批", "主任已审批"),
        ("财务确认", "财务已确认"),
        ("主管已审核", "主管已审核"),
    ],
)
def test_past_tense_of_a_label(label, message):
    assert past_tense(T(label, "x")).zh == message


def test_the_known_messages(app):
    assert RepairOrder.transitions["tell_delay"].done_label.zh == "已告知业主和管家延误"
    assert GoodsPass.transitions["exit"].done_label.zh == "已放行"
    assert Roster.transitions["file"].done_label.zh == "经理已收档"


def test_the_flash_after_a_step_is_the_past_tense(app, world, client_as):
    new_goods_pass(client_as("clerk"), world)
    with app.app_context():
        gp = latest(GoodsPass)
    page = step(client_as("supervisor"), "goods_pass", "sign", gp.id).get_data(as_text=True)
    assert "值班主任已签字" in page and "已值班主任" not in page
