"""The wire: the contract between the hall server and the kiosk (docs/CONTRACTS.md section 2).

Pydantic models of the requests the kiosk sends, the answers the server gives, the event
envelope and the error body, plus the error codes the kiosk reacts to. No I/O. hall_server
validates requests with these models and names them as its routes' response models; kiosk
validates every answer with them. wire imports only pydantic (and queueing, if anything).

Answer models forbid undeclared fields (`WireOut`): a field the server starts to send must be
declared here first, and tests/test_wire_contract.py drives the real server through every
kiosk-facing endpoint to hold both sides to it.
"""

from wire.auth import (
    DeviceTokenOut,
    LoginIn,
    LoginOut,
    MeOut,
    PasswordIn,
    SessionOut,
    SocketTicketOut,
    UserOut,
)
from wire.base import DB_INT_MAX, DB_INT_MIN, ChannelName, DbInt, GreenName, WireOut
from wire.devices import FaultIn, HealthOut, HeartbeatIn, StaffCallIn, StaffCallOut
from wire.documents import DocumentOut
from wire.errors import ErrorBody, ErrorCode, ErrorOut
from wire.events import CALL_EVENTS, ActorOut, CallPayload, EventOut, WindowRef
from wire.halls import (
    HallDetailOut,
    HallGroup,
    HallOut,
    HallWindow,
    NextUp,
    PolicyOut,
    ServiceOut,
    SnapshotGroup,
    SnapshotHall,
    SnapshotOut,
)
from wire.ratings import RatingIn, RatingOut
from wire.tickets import (
    CheckinOut,
    CheckinTicketOut,
    Holder,
    Identity,
    IssueIn,
    RemovePriorityIn,
    TicketOut,
    TrackedTicketOut,
)
from wire.windows import (
    CallIn,
    ClerkRef,
    GroupsIn,
    NextIn,
    NextOut,
    TransferIn,
    WindowClerk,
    WindowClerkOut,
    WindowOut,
)

__all__ = [
    "CALL_EVENTS",
    "DB_INT_MAX",
    "DB_INT_MIN",
    "ActorOut",
    "CallIn",
    "CallPayload",
    "ChannelName",
    "CheckinOut",
    "CheckinTicketOut",
    "ClerkRef",
    "DbInt",
    "DeviceTokenOut",
    "DocumentOut",
    "ErrorBody",
    "ErrorCode",
    "ErrorOut",
    "EventOut",
    "FaultIn",
    "GreenName",
    "GroupsIn",
    "HallDetailOut",
    "HallGroup",
    "HallOut",
    "HallWindow",
    "HealthOut",
    "HeartbeatIn",
    "Holder",
    "Identity",
    "IssueIn",
    "LoginIn",
    "LoginOut",
    "MeOut",
    "NextIn",
    "NextOut",
    "NextUp",
    "PasswordIn",
    "PolicyOut",
    "RatingIn",
    "RatingOut",
    "RemovePriorityIn",
    "ServiceOut",
    "SessionOut",
    "SnapshotGroup",
    "SnapshotHall",
    "SnapshotOut",
    "SocketTicketOut",
    "StaffCallIn",
    "StaffCallOut",
    "TicketOut",
    "TrackedTicketOut",
    "TransferIn",
    "UserOut",
    "WindowClerk",
    "WindowClerkOut",
    "WindowOut",
    "WindowRef",
    "WireOut",
]
