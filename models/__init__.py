"""The domains, each a module of registers declared on the kernel (see kernel/__init__.py for the layers)."""
from kernel.attachments import Attachment  # noqa: F401
from kernel.audit import AuditLog  # noqa: F401
from kernel.deadlines import DeadlineRule  # noqa: F401
from kernel.identity import Membership, MembershipGrant, Property, Role, StaffUser  # noqa: F401
from kernel.numbering import NumberSequence  # noqa: F401
from kernel.retention import RetentionRule  # noqa: F401
from kernel.saved_views import SavedView  # noqa: F401
from kernel.workflow import SignOff  # noqa: F401
from models.desk import (  # noqa: F401
    Callback,
    CleaningBooking,
    Complaint,
    FunctionCard,
    Incident,
    InspectionIssue,
    MailItem,
    MoveIn,
    NetworkRequest,
    PhoneLog,
    ReclaimedWaterSale,
    RepairOrder,
    TelecomRegistration,
    UtilityAccount,
)
from models.duty import (  # noqa: F401
    AttendanceException,
    ChecklistItem,
    DutyLog,
    DutyLogReading,
    Handover,
    LeaveRequest,
    QualityCheck,
    Roster,
    RosterAssignment,
)
from models.master import Department, FeeItem, FeePayment, Payment, Receipt, Resident, Shift, Unit  # noqa: F401
from models.permits import (  # noqa: F401
    AdditionalWorks,
    GoodsPass,
    HotWorkPermit,
    RenovationExtension,
    RenovationPermit,
    StairElevatorUse,
    WorkerPass,
)
