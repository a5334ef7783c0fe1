"""Every register's screen, mounted at /admin/<endpoint>/ (endpoint = the model's table name)."""
from admin_views import charts, desk, duty, master, notify, permits
from kernel.audit import AuditLog
from kernel.deadlines import DeadlineRule
from kernel.i18n import T
from kernel.identity import MembershipGrant, Property, Role, StaffUser
from kernel.retention import RetentionRule
from models import desk as d
from models import duty as u
from models import master as m
from models import permits as p

MASTER = T("基础资料", "Master data")
SYSTEM = T("系统", "System")
DESK = T("前台登记", "Desk")
PERMITS = T("放行与许可", "Passes and permits")
DUTY = T("值班管理", "Duty")


def views():
    return [
        (desk.PhoneLogView, d.PhoneLog, DESK),
        (desk.RepairOrderView, d.RepairOrder, DESK),
        (desk.ComplaintView, d.Complaint, DESK),
        (desk.IncidentView, d.Incident, DESK),
        (desk.CallbackView, d.Callback, DESK),
        (desk.CleaningBookingView, d.CleaningBooking, DESK),
        (desk.FunctionCardView, d.FunctionCard, DESK),
        (desk.ReclaimedWaterSaleView, d.ReclaimedWaterSale, DESK),
        (desk.TelecomRegistrationView, d.TelecomRegistration, DESK),
        (desk.UtilityAccountView, d.UtilityAccount, DESK),
        (desk.NetworkRequestView, d.NetworkRequest, DESK),
        (desk.MailItemView, d.MailItem, DESK),
        (desk.MoveInView, d.MoveIn, DESK),
        (desk.InspectionIssueView, d.InspectionIssue, DESK),
        (master.FeePaymentView, m.FeePayment, DESK),
        (permits.GoodsPassView, p.GoodsPass, PERMITS),
        (permits.RenovationPermitView, p.RenovationPermit, PERMITS),
        (permits.WorkerPassView, p.WorkerPass, PERMITS),
        (permits.RenovationExtensionView, p.RenovationExtension, PERMITS),
        (permits.AdditionalWorksView, p.AdditionalWorks, PERMITS),
        (permits.HotWorkPermitView, p.HotWorkPermit, PERMITS),
        (permits.StairElevatorUseView, p.StairElevatorUse, PERMITS),
        (duty.DutyLogView, u.DutyLog, DUTY),
        (duty.HandoverView, u.Handover, DUTY),
        (duty.RosterView, u.Roster, DUTY),
        (duty.LeaveRequestView, u.LeaveRequest, DUTY),
        (duty.AttendanceExceptionView, u.AttendanceException, DUTY),
        (duty.QualityCheckView, u.QualityCheck, DUTY),
        (duty.DutyLogReadingView, u.DutyLogReading, DUTY),
        (duty.ChecklistItemView, u.ChecklistItem, DUTY),
        (master.UnitView, m.Unit, MASTER),
        (master.ResidentView, m.Resident, MASTER),
        (master.DepartmentView, m.Department, MASTER),
        (master.FeeItemView, m.FeeItem, MASTER),
        (master.PaymentView, m.Payment, MASTER),
        (master.ReceiptView, m.Receipt, MASTER),
        (master.ShiftView, m.Shift, MASTER),
        (master.PropertyView, Property, SYSTEM),
        (master.StaffUserView, StaffUser, SYSTEM),
        (master.MembershipGrantView, MembershipGrant, SYSTEM),
        (master.RoleView, Role, SYSTEM),
        (master.DeadlineRuleView, DeadlineRule, SYSTEM),
        (master.RetentionRuleView, RetentionRule, SYSTEM),
        (master.AuditLogView, AuditLog, SYSTEM),
    ]


def pages() -> list:
    """Screens that are not one register's table: (endpoint, view class, name, category)."""
    return [("daily_summary", duty.DailySummaryView, T("每日汇总", "Daily summary"), DUTY),
            ("overview", duty.RegionalOverviewView, T("各项目概况", "Properties overview"), DUTY),
            ("charts", charts.ChartsView, T("图表", "Charts"), DUTY),
            ("inbox", notify.InboxView, T("我的通知", "My notifications"), None),
            ("outbox", notify.OutboxView, T("发件箱", "Outbox"), SYSTEM)]
