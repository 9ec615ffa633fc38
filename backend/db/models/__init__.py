"""All models, re-exported so Alembic sees one metadata."""

from backend.db.base import Base
from backend.db.models.appointments import Appointment, CalendarFeed
from backend.db.models.campaigns import CAMPAIGN_KINDS, MEMBER_STATUSES, Campaign, CampaignMember
from backend.db.models.coaching import (
    MAX_NOTE_CHARS,
    NOTE_SUBJECTS,
    AuditEntry,
    CoachingNote,
)
from backend.db.models.common import IdempotencyKey
from backend.db.models.customers import CUSTOMER_STATUSES, Customer, Transaction
from backend.db.models.geofences import MAX_RADIUS_M, Geofence, Territory
from backend.db.models.jobs import JobState
from backend.db.models.learning import SegmentOutcome
from backend.db.models.live import LIVE_KINDS, LiveEvent, LiveHead
from backend.db.models.org import DeviceEnrollment, DeviceRefreshToken
from backend.db.models.places import PLACE_KINDS, Beacon, Place, WifiAccessPoint
from backend.db.models.plans import (
    PLAN_STATUSES,
    STOP_STATUSES,
    AgentProfile,
    Plan,
    PlanStop,
    WeekPlan,
)
from backend.db.models.tenancy import ORG_KINDS, ROLES, Device, OrgUnit, StoreApp, Tenant, User
from backend.db.models.tracking import (
    VISIT_SOURCES,
    DeviceCheckpoint,
    DeviceState,
    Event,
    Ping,
    Scan,
    Visit,
    VisitSighting,
)
from backend.db.models.webhooks import (
    DELIVERY_STATUSES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

__all__ = [
    "CAMPAIGN_KINDS",
    "CUSTOMER_STATUSES",
    "DELIVERY_STATUSES",
    "LIVE_KINDS",
    "MAX_NOTE_CHARS",
    "MAX_RADIUS_M",
    "MEMBER_STATUSES",
    "NOTE_SUBJECTS",
    "ORG_KINDS",
    "PLACE_KINDS",
    "PLAN_STATUSES",
    "ROLES",
    "STOP_STATUSES",
    "VISIT_SOURCES",
    "AgentProfile",
    "Appointment",
    "AuditEntry",
    "Base",
    "Beacon",
    "CalendarFeed",
    "Campaign",
    "CampaignMember",
    "CoachingNote",
    "Customer",
    "Device",
    "DeviceCheckpoint",
    "DeviceEnrollment",
    "DeviceRefreshToken",
    "DeviceState",
    "Event",
    "Geofence",
    "IdempotencyKey",
    "JobState",
    "LiveEvent",
    "LiveHead",
    "OrgUnit",
    "Ping",
    "Place",
    "Plan",
    "PlanStop",
    "Scan",
    "SegmentOutcome",
    "StoreApp",
    "Tenant",
    "Territory",
    "Transaction",
    "User",
    "Visit",
    "VisitSighting",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "WeekPlan",
    "WifiAccessPoint",
]
