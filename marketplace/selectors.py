"""Reads for the marketplace: search, visibility, purchases, a listing's page."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models import Avg, Count, FloatField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Least

from core import clock
from distillation.selectors import job_model_card

from . import search
from .models import Download, Listing, Purchase, Rating

ORDERINGS = search.ORDERINGS


def _annotated(listings: QuerySet) -> QuerySet:
    return listings.select_related("owner", "deployment__job", "deployment__artifact").annotate(
        rating_avg=Avg("ratings__stars"), rating_count=Count("ratings", distinct=True),
        price_min=Least(Coalesce("price_buy", "price_rent"), Coalesce("price_rent", "price_buy")))


def _search_annotated(listings: QuerySet) -> QuerySet:
    """What a search result shows, with the rating from subqueries: no GROUP BY over the wide rows, and
    PostgreSQL computes them for the page's rows only unless a filter or sort needs them. No join to the
    deployment, which every matching row would pay for before the sort; the API prefetches it for its page."""
    ratings = Rating.objects.filter(listing=OuterRef("pk")).order_by().values("listing")
    return listings.select_related("owner").defer("search_document").annotate(
        rating_avg=Subquery(ratings.annotate(average=Avg("stars")).values("average"), output_field=FloatField()),
        rating_count=Coalesce(Subquery(ratings.annotate(count=Count("pk")).values("count")), 0),
        price_min=Least(Coalesce("price_buy", "price_rent"), Coalesce("price_rent", "price_buy")))


def _public() -> QuerySet:
    # a suspended owner's listings are hidden with them
    return Listing.objects.filter(status=Listing.Status.ACTIVE, owner__is_active=True)


def listing_is_public(*, listing: Listing) -> bool:
    return listing.status == Listing.Status.ACTIVE and listing.owner.is_active


def listing_search(*, q: str = "", domain: str = "", category: str = "", task: str = "",
                   min_retention: float | None = None, max_latency_ms: float | None = None,
                   max_size_bytes: int | None = None, max_price: int | None = None, export_format: str = "",
                   min_rating: float | None = None, ordering: str = "") -> QuerySet:
    """Active listings holding every word of ``q`` and matching every filter given (they combine);
    ``max_price`` (units) matches a buy or a rent price; ``category`` is a slug, or a task ("text") for
    all of its categories. ``ordering`` defaults to relevance with words, else newest (``search``)."""
    words = search.query_words(q)
    listings = _filtered(public_latest_versions(), domain=domain, category=category, task=task, min_retention=min_retention,
                         max_latency_ms=max_latency_ms, max_size_bytes=max_size_bytes, max_price=max_price,
                         export_format=export_format)
    listings = _search_annotated(search.text_matched(listings, words))
    if min_rating is not None:
        listings = listings.filter(rating_avg__gte=min_rating)
    return search.ordered(listings, ordering or ("relevance" if words else "newest"), has_words=bool(words))


def public_latest_versions() -> QuerySet:
    """Public listings, each family by its newest public version only: an earlier version stays at its
    own URL (its page links to the newest), and shows again if every newer one is withdrawn."""
    return _public().filter(superseded=False)  # a column, so search's plan stays on its indexes


def _filtered(listings: QuerySet, *, domain, category, task, min_retention, max_latency_ms, max_size_bytes, max_price,
              export_format) -> QuerySet:
    if domain:
        listings = listings.filter(domain__iexact=domain)
    if category:
        listings = listings.filter(category__startswith=f"{category}/") if "/" not in category else \
            listings.filter(category=category)
    if task:
        listings = listings.filter(task=task)
    if min_retention is not None:
        listings = listings.filter(retention__gte=min_retention)
    if max_latency_ms is not None:
        listings = listings.filter(latency_ms__lte=max_latency_ms)
    if max_size_bytes is not None:
        listings = listings.filter(size_bytes__lte=max_size_bytes)
    if max_price is not None:
        listings = listings.filter(Q(price_buy__lte=max_price) | Q(price_rent__lte=max_price))
    if export_format:
        listings = listings.filter(export_formats__contains=f",{export_format},")
    return listings


def listing_visible_to(*, user, listing_id) -> Listing | None:
    """Active listings for everyone; the owner, and a buyer while the purchase lasts, also see a suspended
    or withdrawn one (404 for others)."""
    listing = _annotated(Listing.objects.filter(listing_id=listing_id)).first()
    if listing is None:
        return None
    if listing_is_public(listing=listing) or (user.is_authenticated and listing.owner_id == user.pk):
        return listing
    return listing if purchase_current(listing=listing, user=user) is not None else None


def listing_by_id(*, listing_id) -> Listing | None:
    return Listing.objects.select_related("owner", "deployment__job").filter(listing_id=listing_id).first()


def purchase_current(*, listing: Listing, user) -> Purchase | None:
    """The user's purchase, or a rent that has not expired."""
    if not user.is_authenticated:
        return None
    return (Purchase.objects.filter(listing=listing, buyer=user)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=clock.now())).order_by("-created_at").first())


def listing_download_allowed(*, listing: Listing, user) -> bool:
    """The owner; a buyer for good and a renter until the rent ends, whether the listing is still on sale,
    withdrawn by its owner or the owner suspended, but not while a moderator has the listing suspended
    (the moderators' judgement of the model itself)."""
    if listing.owner_id == user.pk:
        return True
    return listing.status != Listing.Status.SUSPENDED and purchase_current(listing=listing, user=user) is not None


def listing_page(*, listing: Listing) -> dict:
    """The model card, benchmarks and lineage, from the job's report and request."""
    job = listing.job
    report, request = job.report or {}, job.request or {}
    teacher, student = report.get("teacher") or {}, report.get("student") or {}
    teachers = [t["model"] for t in request.get("teacher_models") or []] or [request.get("teacher_model")]
    return {
        "model_card": job_model_card(job=job) or _model_card(listing, report),
        "benchmarks": {
            "retention": report.get("retention"), "compression_ratio": report.get("compression_ratio"),
            "speedup": report.get("speedup"),
            "latency_ms_p50": student.get("latency_ms_p50"), "latency_ms_p95": student.get("latency_ms_p95"),
            "teacher_latency_ms_p50": teacher.get("latency_ms_p50"),
            "accuracy": student.get("accuracy"), "teacher_accuracy": teacher.get("accuracy"),
            "params": student.get("params"), "size_bytes": student.get("size_bytes"),
        },
        "lineage": {"job_id": str(job.job_id), "teachers": [t for t in teachers if t],
                    "data_sha256": report.get("data_sha256"), "backend": job.backend, "task": report.get("task"),
                    "architecture": student.get("architecture")},
        "exports": sorted(job.artifacts.filter(verified=True).values_list("format", flat=True)),
        "downloads": [{"format": a.format, "sha256": a.sha256, "size_bytes": a.size_bytes,
                       "folder": (Path(settings.MEDIA_ROOT) / a.path).is_dir()}  # downloads zipped
                      for a in job.artifacts.filter(verified=True).order_by("format")],
    }


def _model_card(listing: Listing, report: dict) -> str:
    lines = [f"# {listing.title}", "", listing.description or "", ""]
    if report.get("retention") is not None:
        lines.append(f"- Retention: {report['retention']:.1%} of the teacher's accuracy")
    if report.get("compression_ratio"):
        lines.append(f"- Compression: {report['compression_ratio']:.1f}x fewer parameters")
    if report.get("speedup"):
        lines.append(f"- Speed-up: {report['speedup']:.1f}x")
    return "\n".join(lines).strip() + "\n"


# --- The buyer's library and the seller's dashboard (/marketplace/library/, /marketplace/selling/)


def _export_formats(job_ids) -> dict[int, list[str]]:
    from distillation.models import Artifact

    formats: dict[int, list[str]] = {}
    for job_id, name in Artifact.objects.filter(job_id__in=set(job_ids), verified=True).order_by("format").values_list(
            "job_id", "format"):
        formats.setdefault(job_id, []).append(name)
    return formats


def buyer_library(*, user) -> list[dict]:
    """What the user bought or rents, newest first: each purchase with whether it still downloads (as
    ``listing_download_allowed`` decides: a current purchase, the listing not suspended) and in which formats."""
    purchases = list(Purchase.objects.filter(buyer=user).select_related("listing__deployment").order_by("-created_at", "-pk"))
    formats = _export_formats(p.listing.deployment.job_id for p in purchases)
    return [{"purchase": p, "listing": p.listing, "expired": not p.is_current,
             "suspended": p.listing.status == Listing.Status.SUSPENDED,
             "download_allowed": p.is_current and p.listing.status != Listing.Status.SUSPENDED,
             "formats": formats.get(p.listing.deployment.job_id, [])} for p in purchases]


def listing_reference(listing: Listing) -> str:
    """The reference the purchase's ledger sale carries (``services.listing_purchase``)."""
    return f"listing:{listing.listing_id}"


def _seller_entries(*, user, references):
    from ledger.models import Transaction
    from ledger.selectors import wallet_entries

    # net of any reversal of a sale (it carries the sale's reference); a seller never pays into their own listing
    return (wallet_entries(user=user).filter(transaction__reference__in=list(references),
                                             transaction__kind__in=[Transaction.Kind.SALE, Transaction.Kind.REVERSAL])
            .order_by())


def seller_listing_figures(*, user) -> list[dict]:
    """Each of the user's listings, newest first, with its sales and rentals, rating, and revenue: what the
    ledger credited the user for it (units), not the purchases' prices."""
    from django.db.models import Sum

    listings = list(Listing.objects.filter(owner=user).select_related("deployment").annotate(
        sales=Count("purchases", filter=Q(purchases__kind=Purchase.Kind.BUY), distinct=True),
        rentals=Count("purchases", filter=Q(purchases__kind=Purchase.Kind.RENT), distinct=True),
        rating_avg=Avg("ratings__stars"), rating_count=Count("ratings", distinct=True),
        downloads_count=Coalesce(Subquery(  # a subquery: another join would multiply the rows counted above
            Download.objects.filter(listing=OuterRef("pk")).order_by().values("listing")
            .annotate(count=Count("pk")).values("count")), 0),
    ).order_by("-created_at", "-pk"))
    references = {listing_reference(listing): listing for listing in listings}
    revenue = dict(_seller_entries(user=user, references=references).values("transaction__reference")
                   .annotate(total=Sum("amount")).values_list("transaction__reference", "total"))
    return [{"listing": listing, "sales": listing.sales, "rentals": listing.rentals, "downloads": listing.downloads_count,
             "rating_avg": listing.rating_avg, "rating_count": listing.rating_count,
             "revenue": revenue.get(reference, 0)} for reference, listing in references.items()]


def seller_revenue_series(*, user) -> dict:
    """The user's revenue from their listings by day (FTNS, summed from the ledger's entries), every day
    from the first sale to the last (a day without one is 0), as bars in the JSON ``static/js/charts.js`` draws."""
    from datetime import timedelta

    from django.db.models import Sum
    from django.db.models.functions import TruncDate

    from ledger.amounts import to_ftns

    references = [listing_reference(listing) for listing in Listing.objects.filter(owner=user).only("listing_id")]
    days = dict(_seller_entries(user=user, references=references).annotate(day=TruncDate("transaction__created_at"))
                .values("day").annotate(total=Sum("amount")).values_list("day", "total"))
    x, y = [], []
    if days:
        day, last = min(days), max(days)
        while day <= last:
            x.append(day.isoformat())
            y.append(float(to_ftns(days.get(day, 0))))
            day += timedelta(days=1)
    return {"x_title": "day (UTC)", "y_title": "revenue, FTNS", "references": [], "last_seq": 0,
            "series": [{"key": "revenue", "name": "revenue", "axis": "y", "type": "bar", "x": x, "y": y}]}


def listing_reviews(*, listing: Listing) -> QuerySet:
    """A listing's ratings with their reviews, newest first."""
    return listing.ratings.select_related("rater").order_by("-created_at")


def listing_ever_bought_by(*, listing: Listing, user) -> bool:
    """Whether the user bought or rented it at some time (the service lets only those rate)."""
    return user.is_authenticated and Purchase.objects.filter(listing=listing, buyer=user).exists()
