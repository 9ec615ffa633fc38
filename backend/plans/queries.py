"""SQL fragments over the plans domain's tables, for the statements of other domains that
must read them in the same round trip (tracking's attribution and ingest): the plans domain
owns what they say. Arguments are SQL expressions chosen in code (columns, parameters)."""

from __future__ import annotations

from backend.customers.queries import customers


def planned_near(agent: str, customer: str, t: str) -> str:
    """Whether the agent's active plan has `customer` within three hours of `t` (epoch s)."""
    return f"""EXISTS (
        SELECT 1 FROM plans p
        JOIN plan_stops ps ON ps.tenant_id = p.tenant_id AND ps.plan_id = p.id
        WHERE p.tenant_id = $1 AND p.agent_id = {agent} AND p.status = 'active'
          AND ps.customer_id = {customer}
          AND ps.start_at BETWEEN to_timestamp({t}) - interval '3 hours'
                              AND to_timestamp({t}) + interval '3 hours')"""  # noqa: S608 - expressions chosen in code


def planned_elsewhere_near(agent: str, customer: str, t: str, location: str, within: str) -> str:
    """Whether the agent's active plan has another customer than `customer` within the hour
    of `t`, within `within` metres of `location`."""
    return f"""EXISTS (
        SELECT 1 FROM plans p
        JOIN plan_stops ps ON ps.tenant_id = p.tenant_id AND ps.plan_id = p.id
        JOIN {customers()} c ON c.tenant_id = ps.tenant_id AND c.id = ps.customer_id
        WHERE p.tenant_id = $1 AND p.agent_id = {agent} AND p.status = 'active'
          AND ps.customer_id <> {customer}
          AND ps.start_at BETWEEN to_timestamp({t}) - interval '1 hour'
                              AND to_timestamp({t}) + interval '1 hour'
          AND ST_DWithin(c.location, {location}, {within}))"""  # noqa: S608 - expressions chosen in code


def profile_of(tenant: str, user: str) -> str:
    """A subquery of the agent's planning profile (one row, `settings`, or none)."""
    return (
        f"(SELECT ap.settings FROM agent_profiles ap"  # noqa: S608 - expressions chosen in code
        f" WHERE ap.tenant_id = {tenant} AND ap.user_id = {user})"
    )


def active_plans() -> str:
    """The plans that stand (one a day per agent, the latest revision), as a subquery to
    alias."""
    return "(SELECT * FROM plans WHERE status = 'active')"


def plans() -> str:
    """Every plan, any revision (every column), as a subquery to alias."""
    return "(SELECT * FROM plans)"


def plan_stops() -> str:
    """Every stop of every plan (every column), as a subquery to alias."""
    return "(SELECT * FROM plan_stops)"
