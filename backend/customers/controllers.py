"""HTTP routes for customers and prospects."""

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from backend.auth.security import Principal
from backend.common.controllers import crud_controller
from backend.common.deps import DbSession, per_request
from backend.common.imports import ImportResult
from backend.common.pagination import Page
from backend.common.params import Cursor, Limit, NearLat, NearLon, Search, WithinM, near_filter
from backend.customers.rfm import (
    TransactionImport,
    TransactionImportResult,
    TransactionOut,
    customer_transactions,
    import_transactions,
)
from backend.customers.schemas import Customer, CustomerCreate, CustomerUpdate, Status
from backend.customers.services import CustomerService

_CustomerControllerBase: Any = crud_controller(
    path="/customers",
    tag="customers",
    noun="Customer",
    service=CustomerService,
    create_schema=CustomerCreate,
    update_schema=CustomerUpdate,
    read_schema=Customer,
)


class CustomerController(_CustomerControllerBase):
    dependencies = {"customer_service": per_request(CustomerService)}

    @get("/", operation_id="ListCustomers")
    async def list_customers(
        self,
        customer_service: NamedDependency[CustomerService],
        status: FromQuery[Status | None] = None,
        assigned_agent_id: FromQuery[uuid.UUID | None] = None,
        org_unit_id: FromQuery[uuid.UUID | None] = None,
        income_band: FromQuery[str | None] = None,
        household_type: FromQuery[str | None] = None,
        life_stage: FromQuery[str | None] = None,
        lifestyle_tag: FromQuery[str | None] = None,
        do_not_visit: FromQuery[bool | None] = None,
        external_id: FromQuery[str | None] = None,
        q: Search = None,
        near_lat: NearLat = None,
        near_lon: NearLon = None,
        within_m: WithinM = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[Customer]:
        filters = customer_service.filters(
            status=status,
            assigned_agent_id=assigned_agent_id,
            org_unit_id=org_unit_id,
            income_band=income_band,
            household_type=household_type,
            life_stage=life_stage,
            lifestyle_tag=lifestyle_tag,
            do_not_visit=do_not_visit,
            external_id=external_id,
            q=q,
            near=near_filter(near_lat, near_lon, within_m),
        )
        return await customer_service.page(filters, cursor, limit)

    @post(
        "/import",
        operation_id="ImportCustomers",
        description=(
            "CSV with a header (columns as in CustomerCreate; lifestyle_tags separated by ';'). "
            "Every row is checked first; any bad row rejects the whole file with a 422 that "
            "lists each bad row, and nothing is written."
        ),
    )
    async def import_customers(
        self,
        customer_service: NamedDependency[CustomerService],
        request: Request[Principal, Any, Any],
    ) -> ImportResult:
        return await customer_service.import_csv(await request.body())


class TransactionController(Controller):
    path = "/transactions"
    tags = ["customers"]
    dependencies = {"customer_service": per_request(CustomerService)}

    @post(
        "/",
        operation_id="ImportTransactions",
        description=(
            "Customers' purchases (negative amounts: refunds), up to 5,000 at a time, from the "
            "tenant's own systems; managers and admins. Every row is checked first and any bad "
            "row rejects the batch with a 422 naming it (`transactions.3.customer_id`). A row "
            "whose `external_id` was imported before is a duplicate and changes nothing. Then "
            "every customer's RFM and churn risk is recomputed (docs/recommendations.md)."
        ),
    )
    async def import_transactions(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        data: JSONBody[TransactionImport],
    ) -> TransactionImportResult:
        return await import_transactions(db_session, request.user, data)

    @get(
        "/",
        operation_id="ListTransactions",
        description="A customer's transactions, newest first: anyone who may see the customer.",
    )
    async def list_transactions(
        self,
        customer_service: NamedDependency[CustomerService],
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        customer_id: FromQuery[uuid.UUID],
        limit: Limit = 100,
    ) -> list[TransactionOut]:
        # Access as for the customer itself: 404 when the caller may not see it.
        await customer_service.get(customer_id)
        return await customer_transactions(db_session, request.user.tenant_id, customer_id, limit)
