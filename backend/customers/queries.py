"""The customers domain's relations for other domains' statements: what it says about a
customer, where they must join it in one statement."""

from __future__ import annotations


def segments() -> str:
    """Each customer's segment (`tenant_id`, `id`, `segment`): their life stage, `unknown`
    where none is known. Learning and suggestions count outcomes by it."""
    return "(SELECT tenant_id, id, coalesce(life_stage, 'unknown') AS segment FROM customers)"


def customers() -> str:
    """Every customer and prospect (every column), as a subquery to alias."""
    return "(SELECT * FROM customers)"
