"""The catalogue in templates: a category's label, and what listing a job would give it (its category and
recommended price) for the listing form on the job page, which distillation renders without knowing of
the marketplace."""

from django import template

from marketplace import categories, price_advice, services

register = template.Library()


@register.filter
def category_label(slug: str) -> str:
    return categories.category_label(slug)


@register.simple_tag
def listing_advice(job) -> dict | None:
    """The category and recommended prices a listing of ``job`` would get; None before it completed."""
    if job is None or job.status != job.Status.COMPLETED:
        return None
    facts = services.listing_facts(job=job)
    advice = services.listing_price_advice(job=job, category=facts["category"])
    return {"category": facts["category"], "category_label": categories.category_label(facts["category"]),
            "buy": advice.buy, "rent": advice.rent, "rule": price_advice.RULE}
