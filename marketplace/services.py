"""Writes for the marketplace: listings, purchases (through the ledger's sale), ratings, reports, and
the moderators' decisions on listings (each in safety's append-only audit log)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.services import notification_send
from core import clock
from core.errors import DomainError
from distillation import services as distillation
from distillation.models import DeployedModel, DistillationJob
from distillation.selectors import job_model_card, job_teacher_owners
from distillation.uploads import dataset_of
from ledger import pricing
from ledger import selectors as ledger_selectors
from ledger import services as ledger
from ledger.amounts import UNITS_PER_FTNS, display_ftns, format_ftns
from safety import selectors as safety_selectors
from safety import services as safety
from safety.models import ModerationAction
from webhooks import services as webhooks

from . import catalogue, categories, price_advice, search, selectors
from .models import Download, Listing, ListingFamily, ListingReport, Purchase, Rating

# What a model listed straight from deploy (the request's marketplace_listing) costs until its owner
# changes it: 10 FTNS to buy, 2 FTNS per 30 days to rent.
DEFAULT_PRICE_BUY = 10 * UNITS_PER_FTNS
DEFAULT_PRICE_RENT = 2 * UNITS_PER_FTNS


class MarketplaceError(DomainError):
    status_code = 409
    code = "conflict"


class NotAllowed(MarketplaceError):
    status_code = 403
    code = "permission_denied"


def _benchmarks_of(report: dict | None) -> dict:
    student = (report or {}).get("student") or {}
    return {"retention": (report or {}).get("retention"), "latency_ms": student.get("latency_ms_p50")}


@transaction.atomic
def listing_create(*, owner, deployment: DeployedModel, title: str = "", description: str = "",
                   price_buy: int | None = DEFAULT_PRICE_BUY, price_rent: int | None = DEFAULT_PRICE_RENT,
                   rent_period_days: int = 30, category: str = "", price_per_1k_predictions: int = 0) -> Listing:
    """List a deployed model; refused while the job's circuit breaker is tripped or rejected. The catalogue
    facts (category, task, size, exports, family and version, recommended price, search text) come from
    the job; ``category`` overrides the one assigned."""
    job = deployment.job
    if job.owner_id != owner.pk:
        raise NotAllowed("Only the model's owner can list it.")
    if refusal := safety_selectors.job_deploy_refusal(job=job):
        raise MarketplaceError(refusal)
    if Listing.objects.filter(deployment=deployment).exists():
        raise MarketplaceError("This model is already listed.")
    share = job.request.get("revenue_sharing")
    if share is not None and pricing.exact_fraction(share) > 1 - pricing.PLATFORM_SHARE:
        raise MarketplaceError(f"The job's revenue_sharing {share} is over {float(1 - pricing.PLATFORM_SHARE):.0%}, "
                               f"which would cut into the platform's share; it cannot be sold.", field="revenue_sharing")
    domain = str(job.request.get("domain") or "")
    facts = listing_facts(job=job, deployment=deployment)
    if category:
        if refusal := categories.category_refusal(slug=category, task=facts["task"]):
            raise MarketplaceError(refusal, status_code=400, code="invalid", field="category")
        facts["category"] = category
        facts["recommended_price"] = listing_price_advice(job=job, category=category).buy  # that category's prices
    listing = Listing(owner=owner, deployment=deployment, title=title or f"{domain or 'distilled'} model {str(job.job_id)[:8]}",
                      description=description, domain=domain, price_buy=price_buy, price_rent=price_rent,
                      price_per_1k_predictions=price_per_1k_predictions or 0,
                      rent_period_days=rent_period_days, **_benchmarks_of(job.report), **facts)
    listing.search_document = _search_document(listing)
    listing.family, listing.version = _family_and_version(owner=owner, job=job, task=facts["task"])
    listing.full_clean()
    listing.save()
    family_superseded_refresh(family_id=listing.family_id)
    search.search_words_add(listing.search_document)
    return listing


def family_superseded_refresh(*, family_id: int | None) -> None:
    """Mark the versions under the family's newest one on sale as superseded (search shows only that
    one), and none when no version is on sale. Called whenever a version is listed or changes status."""
    if family_id is None:
        return
    versions = Listing.objects.filter(family_id=family_id)
    newest = versions.filter(status=Listing.Status.ACTIVE).aggregate(top=Max("version"))["top"]
    below = newest or 0  # with none on sale, none is superseded
    versions.filter(version__lt=below, superseded=False).update(superseded=True)
    versions.filter(superseded=True).exclude(version__lt=below).update(superseded=False)


def listing_facts(*, job: DistillationJob, deployment: DeployedModel | None = None) -> dict:
    """What a listing of ``job`` copies from it: task, category, size of the listed export, compression,
    verified export formats and the recommended price (the seller sees these before listing, too)."""
    request, report = job.request or {}, job.report or {}
    task = catalogue.job_task(request=request, report=report, estimate=job.estimate)
    category = categories.category_assign(task=task, domain=str(request.get("domain") or ""), data=_data_name(job))
    artifact = deployment.artifact if deployment is not None else _listed_artifact(job)
    advice = listing_price_advice(job=job, category=category)
    return {"task": task, "category": category, "size_bytes": artifact.size_bytes if artifact else None,
            "compression": report.get("compression_ratio"), "recommended_price": advice.buy,
            "export_formats": catalogue.export_formats_field(
                job.artifacts.filter(verified=True).values_list("format", flat=True))}


def listing_price_advice(*, job: DistillationJob, category: str) -> price_advice.PriceAdvice:
    """``price_advice``'s rule for this job: its settled cost, its figures, the active listings of its category."""
    report = job.report or {}
    comparable = list(Listing.objects.filter(category=category, status=Listing.Status.ACTIVE, price_buy__isnull=False)
                      .exclude(deployment__job=job).order_by("-created_at").values_list("price_buy", flat=True)[:200])
    return price_advice.price_advice(cost=_job_cost(job), retention=report.get("retention"),
                                     compression=report.get("compression_ratio"), comparable_prices=comparable)


def _job_cost(job: DistillationJob) -> int:
    """What the job cost its owner (units): the settled hold's charge, else the estimate."""
    reference = distillation.job_hold_reference(job)
    hold = ledger_selectors.holds_by_reference(references=[reference]).get(reference)
    if hold is not None and hold.state == hold.State.SETTLED:
        return hold.charged
    return int((job.estimate or {}).get("cost_units") or job.cost_estimate_ftns * UNITS_PER_FTNS)


DEPLOY_PREFERENCE = ("onnx", "safetensors", "huggingface", "pth")  # distillation.services.job_deploy's


def _listed_artifact(job: DistillationJob):
    """What deploying would serve, for the advice shown before a job is deployed: the job's deployment,
    else the export job_deploy prefers."""
    deployment = DeployedModel.objects.filter(job=job).select_related("artifact").first()
    if deployment is not None:
        return deployment.artifact
    artifacts = {a.format: a for a in job.artifacts.filter(verified=True)}
    return next((artifacts[f] for f in DEPLOY_PREFERENCE if f in artifacts), None)


def _data_name(job: DistillationJob) -> str:
    """The data's name for the category: ``builtin:NAME``, or an uploaded data set's name."""
    ref = catalogue.job_data_ref(request=job.request or {}, estimate=job.estimate)
    if ref and not ref.startswith("builtin:"):
        dataset = dataset_of(user=job.owner, public_id=ref)
        return dataset.name if dataset is not None else ""
    return ref


def _search_document(listing: Listing) -> str:
    return catalogue.search_document_text(title=listing.title, description=listing.description,
                                          category=listing.category, domain=listing.domain,
                                          model_card=job_model_card(job=listing.deployment.job))


def _family_and_version(*, owner, job: DistillationJob, task: str) -> tuple[ListingFamily, int]:
    """The family of the owner's latest listing of the same lineage (teachers, task and domain), at the
    next version; else a new family at version 1. The owner's row is locked first, so two listings made
    at once cannot both start a family."""
    key = catalogue.lineage_key(request=job.request or {}, task=task)
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()  # one owner's listings, one at a time
    base = ((job.estimate or {}).get("starts_from") or {}).get("job_id")
    if base and job.request.get("base_model"):  # an incremental update: a new version of its base model's family
        listed = (Listing.objects.filter(owner=owner, family__isnull=False, deployment__job__job_id=base)
                  .order_by("-created_at", "-pk").first())
        if listed is not None:
            family = ListingFamily.objects.select_for_update().get(pk=listed.family_id)
            return family, (family.listings.aggregate(top=Max("version"))["top"] or 0) + 1
    earlier = (Listing.objects.filter(owner=owner, family__isnull=False).select_related("deployment__job")
               .order_by("-created_at", "-pk"))
    for listing in earlier:
        if catalogue.lineage_key(request=listing.deployment.job.request or {}, task=listing.task) == key:
            family = ListingFamily.objects.select_for_update().get(pk=listing.family_id)
            return family, (family.listings.aggregate(top=Max("version"))["top"] or 0) + 1
    return ListingFamily.objects.create(owner=owner), 1


def listing_create_on_deploy(*, deployment: DeployedModel) -> Listing | None:
    """The request's ``marketplace_listing``: list at deploy with the default prices (once)."""
    if not deployment.job.request.get("marketplace_listing"):
        return None
    existing = Listing.objects.filter(deployment=deployment).first()
    return existing or listing_create(owner=deployment.job.owner, deployment=deployment)


@transaction.atomic
def job_deploy_and_list(*, job: DistillationJob, export_format: str | None = None) -> DeployedModel:
    """Deploy a completed job (distillation's ``job_deploy``) and, when its request asked, list the
    model; neither happens when the listing is refused."""
    deployment = distillation.job_deploy(job=job, export_format=export_format)
    listing_create_on_deploy(deployment=deployment)
    return deployment


@transaction.atomic
def listing_update(*, listing: Listing, user, **changes) -> Listing:
    """The owner edits title, description, category (one of the taxonomy's for its task), prices, or
    withdraws/relists; a suspension is the moderators'."""
    if listing.owner_id != user.pk:
        raise NotAllowed("Only the listing's owner can change it.")
    listing = Listing.objects.select_for_update().get(pk=listing.pk)
    status = changes.pop("status", None)
    if status is not None and status != listing.status:
        if listing.status == Listing.Status.SUSPENDED:
            raise MarketplaceError("A moderator suspended this listing; only a moderator can reinstate it.", field="status")
        if status == Listing.Status.ACTIVE and (refusal := safety_selectors.job_deploy_refusal(job=listing.job)):
            raise MarketplaceError(refusal, field="status")
        listing.status = status
    if "category" in changes and (refusal := categories.category_refusal(slug=changes["category"], task=listing.task)):
        raise MarketplaceError(refusal, status_code=400, code="invalid", field="category")
    for name, value in changes.items():
        setattr(listing, name, value)
    if changes.keys() & {"title", "description", "category"}:
        listing.search_document = _search_document(listing)
    if "category" in changes:  # the advice follows the category's comparable listings
        listing.recommended_price = listing_price_advice(job=listing.job, category=listing.category).buy
    if listing.price_buy is None and listing.price_rent is None:  # in words, before the constraint's name
        raise MarketplaceError("Give a price to buy, to rent, or both.", status_code=400, code="invalid",
                               field="price_rent" if "price_rent" in changes else "price_buy")
    listing.full_clean()
    listing.save()
    if status is not None:
        family_superseded_refresh(family_id=listing.family_id)
    if changes.keys() & {"title", "description", "category"}:
        search.search_words_add(listing.search_document)
    return listing


def _teachers_of(job) -> list:
    """(owner, weight) per teacher: an uploaded teacher's owner, None for the catalog (its pool account);
    an ensemble's teachers share by their weights."""
    from fractions import Fraction

    owners = job_teacher_owners(job=job)
    weights = [t.get("weight", 1) for t in (job.estimate or {}).get("teachers") or []]
    if len(weights) != len(owners):
        weights = [1] * len(owners)
    return [(owner, Fraction(str(weight))) for owner, weight in zip(owners, weights)]


def listing_revenue_parties(*, listing: Listing) -> dict:
    """Whom a listing's revenue is split between, as its purchase's ledger sale takes them: ``creator``,
    ``teachers`` ((owner, weight) each) and ``teacher_share`` (the job's ``revenue_sharing``). Metered
    usage (serving/billing.py) is split the same way."""
    job = listing.job
    return {"creator": listing.owner, "teachers": _teachers_of(job), "teacher_share": job.request.get("revenue_sharing")}


def _require_the_stated_terms(listing: Listing, *, kind: str, price: int, expected_price: int,
                              expected_period_days: int | None) -> None:
    """The owner may change a price between the buyer's read and the purchase: the buyer pays only
    the price (and, renting, for the period) they stated."""
    now = {"price": format_ftns(price)}
    if kind == Purchase.Kind.RENT:
        now["rent_period_days"] = listing.rent_period_days
        if expected_period_days != listing.rent_period_days:
            raise MarketplaceError(f"The rent period is now {listing.rent_period_days} days, not the "
                                   f"{expected_period_days} you accepted; nothing was charged.",
                                   code="price_changed", field="rent_period_days", extra={"current": now})
    if expected_price != price:
        raise MarketplaceError(f"The price to {kind} is now {now['price']} FTNS, not the {format_ftns(expected_price)} "
                               "you accepted; nothing was charged.", code="price_changed", field="expected_price",
                               extra={"current": now})


@transaction.atomic
def listing_purchase(*, listing: Listing, buyer, kind: str, expected_price: int,
                     expected_period_days: int | None = None, dedupe_key: str | None = None) -> Purchase:
    """Buy or rent at the price the buyer states (units; and a rent's period): the buyer pays it,
    split by the ledger's sale (creator, teachers, platform). ``dedupe_key`` (a confirmation's or a
    request's idempotency key) makes the ledger refuse to post the same sale twice."""
    listing = Listing.objects.select_for_update().select_related("deployment__job", "owner").get(pk=listing.pk)
    if not selectors.listing_is_public(listing=listing):
        raise MarketplaceError("This listing is not on sale (withdrawn or suspended).")
    if listing.owner_id == buyer.pk:
        raise MarketplaceError("You own this model; download it instead.")
    price = listing.price_buy if kind == Purchase.Kind.BUY else listing.price_rent
    if price is None:
        raise MarketplaceError(f"This model is not offered to {kind}.", field="kind")
    _require_the_stated_terms(listing, kind=kind, price=price, expected_price=expected_price,
                              expected_period_days=expected_period_days)
    if selectors.purchase_current(listing=listing, user=buyer) is not None:
        raise MarketplaceError("You already have this model.")
    job = listing.job
    txn = ledger.ledger_sale_post(buyer=buyer, creator=listing.owner, price=price, teachers=_teachers_of(job),
                                  teacher_share=job.request.get("revenue_sharing"), reference=f"listing:{listing.listing_id}",
                                  dedupe_key=dedupe_key)
    if (paid := Purchase.objects.filter(transaction=txn).first()) is not None:
        return paid  # the same confirmation, posted once already
    expires = clock.now() + timedelta(days=listing.rent_period_days) if kind == Purchase.Kind.RENT else None
    purchase = Purchase(listing=listing, buyer=buyer, kind=kind, price=price, transaction=txn, expires_at=expires)
    purchase.full_clean()
    purchase.save()
    verb = "bought" if kind == Purchase.Kind.BUY else "rented"
    notification_send(user=listing.owner, kind="model_sold", link=f"/jobs/{job.job_id}/",
                      message=f"{buyer.get_username()} {verb} {listing.title} for {display_ftns(price)} FTNS.")
    webhooks.event_emit(user=listing.owner, type="model.sold", data=sale_event_data(purchase))
    return purchase


def sale_event_data(purchase: Purchase) -> dict:
    """What a model.sold webhook tells the seller: the listing, the terms and the job; nothing of the buyer."""
    listing = purchase.listing
    data = {"listing_id": str(listing.listing_id), "title": listing.title, "kind": purchase.kind,
            "price": format_ftns(purchase.price), "price_units": purchase.price, "currency": "FTNS",
            "job_id": str(listing.job.job_id), "model_id": str(listing.deployment.model_id),
            "sold_at": purchase.created_at, "listing_url": webhooks.site_url(f"/marketplace/{listing.listing_id}/"),
            "api_url": webhooks.site_url(f"/api/v1/marketplace/models/{listing.listing_id}/")}
    if purchase.kind == Purchase.Kind.RENT:
        data |= {"rent_period_days": listing.rent_period_days, "expires_at": purchase.expires_at}
    return data


@transaction.atomic
def listing_rate(*, listing: Listing, rater, stars: int, review: str = "") -> Rating:
    """A buyer's or renter's one rating of a model (a second is refused: ``listing_rating_update`` changes it)."""
    _require_may_rate(listing, rater)
    if Rating.objects.filter(listing=listing, rater=rater).exists():
        raise MarketplaceError("You have already rated this model.")
    rating = Rating(listing=listing, rater=rater, stars=stars, review=review)
    rating.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            rating.save()
    except IntegrityError:  # a second request at the same moment
        raise MarketplaceError("You have already rated this model.") from None
    return rating


def listing_download_record(*, listing: Listing, user, export_format: str) -> Download | None:
    """Count a buyer's or renter's download for the seller's dashboard (the owner's own are not counted)."""
    if listing.owner_id == user.pk:
        return None
    return Download.objects.create(listing=listing, user=user, format=export_format)


def _require_may_rate(listing: Listing, rater) -> None:
    if listing.owner_id == rater.pk:
        raise NotAllowed("You cannot rate your own model.")
    if not Purchase.objects.filter(listing=listing, buyer=rater).exists():
        raise NotAllowed("Only buyers can rate a model.")


@transaction.atomic
def listing_rating_update(*, listing: Listing, rater, stars: int, review: str = "") -> Rating:
    """Its author changes their rating of a model (stars and review); still one rating each."""
    _require_may_rate(listing, rater)
    rating = Rating.objects.select_for_update().filter(listing=listing, rater=rater).first()
    if rating is None:
        raise MarketplaceError("You have not rated this model yet.", status_code=404)
    rating.stars, rating.review, rating.updated_at = stars, review, clock.now()
    rating.full_clean(validate_constraints=False)
    rating.save(update_fields=["stars", "review", "updated_at"])
    return rating


@transaction.atomic
def listing_report_create(*, listing: Listing, reporter, reason: str) -> ListingReport:
    if listing.owner_id == reporter.pk:
        raise NotAllowed("You cannot report your own listing; withdraw it from sale instead.")
    reason = (reason or "").strip()
    if not reason:
        raise MarketplaceError("A reason is required.", field="reason")
    if ListingReport.objects.filter(listing=listing, reporter=reporter, status=ListingReport.Status.OPEN).exists():
        raise MarketplaceError("You have already reported this listing; a moderator will look at it.")
    report = ListingReport(listing=listing, reporter=reporter, reason=reason[:2000])
    report.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            report.save()
    except IntegrityError:
        raise MarketplaceError("You have already reported this listing; a moderator will look at it.") from None
    return report


# --- Moderation (the console: marketplace/admin.py). Refusals are safety's, so the console shows them.


def _close_reports(*, listing: Listing, status: str, moderator, reason: str, only=None) -> None:
    reports = ListingReport.objects.filter(listing=listing, status=ListingReport.Status.OPEN)
    if only is not None:
        reports = reports.filter(pk=only.pk)
    reports.update(status=status, decided_by=moderator, decided_at=timezone.now(), decision_reason=reason)


@transaction.atomic
def listing_reports_action(*, listing: Listing, moderator, reason: str) -> int:
    """Close a listing's open reports as actioned (a moderator acted on them another way, e.g. by
    suspending the owner); how many were closed."""
    safety.require_moderator(moderator)
    reason = safety.require_reason(reason)
    open_reports = ListingReport.objects.filter(listing=listing, status=ListingReport.Status.OPEN).count()
    _close_reports(listing=listing, status=ListingReport.Status.ACTIONED, moderator=moderator, reason=reason)
    return open_reports


@transaction.atomic
def listing_report_dismiss(*, report: ListingReport, moderator, reason: str) -> ListingReport:
    safety.require_moderator(moderator)
    reason = safety.require_reason(reason)
    report = ListingReport.objects.select_for_update().select_related("listing").get(pk=report.pk)
    if report.status != ListingReport.Status.OPEN:
        raise safety.SafetyError("This report was already decided.")
    _close_reports(listing=report.listing, status=ListingReport.Status.DISMISSED, moderator=moderator, reason=reason,
                   only=report)
    safety.moderation_action_record(moderator=moderator, action=ModerationAction.Action.DISMISS_REPORT,
                                    listing=report.listing, target_user=report.reporter, reason=reason)
    report.refresh_from_db()
    return report


@transaction.atomic
def listing_suspend(*, listing: Listing, moderator, reason: str, suspend: bool = True) -> Listing:
    """Suspend (hidden, not sold; its open reports count as actioned) or reinstate a listing."""
    safety.require_moderator(moderator)
    reason = safety.require_reason(reason)
    listing = Listing.objects.select_for_update().get(pk=listing.pk)
    if suspend:
        if listing.status == Listing.Status.SUSPENDED:
            raise safety.SafetyError("The listing is already suspended.")
        listing.status = Listing.Status.SUSPENDED
        _close_reports(listing=listing, status=ListingReport.Status.ACTIONED, moderator=moderator, reason=reason)
    else:
        if listing.status != Listing.Status.SUSPENDED:
            raise safety.SafetyError("Only a suspended listing can be reinstated.")
        listing.status = Listing.Status.ACTIVE
    listing.save(update_fields=["status"])
    family_superseded_refresh(family_id=listing.family_id)
    action = ModerationAction.Action.SUSPEND_LISTING if suspend else ModerationAction.Action.REINSTATE_LISTING
    safety.moderation_action_record(moderator=moderator, action=action, listing=listing, target_user=listing.owner,
                                    reason=reason)
    return listing
