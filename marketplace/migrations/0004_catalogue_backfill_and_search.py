"""Fill the catalogue facts of listings made before them (the same pure functions listing_create uses),
and, on PostgreSQL only, build full-text and trigram search (marketplace/search.py):

- ``search_vector``: a stored generated tsvector column (title A; domain and category B; description C;
  the search document, model card included, D) with a GIN index, which matching reads; and
  ``search_rank_vector``, the same without the document (A, B, C), which ranking reads: small, it stays
  in the row, where ranking by the whole vector would read 10,000 TOASTed values for a common word. The
  columns are the database's alone: Django's model does not name them, so SQLite and the ORM's writes
  never see them;
- ``marketplace_search_word``: the words of the search documents, with a GIN trigram index (pg_trgm),
  against which a misspelt query word is corrected.
"""

import uuid
from collections import defaultdict

from django.db import migrations

from marketplace import catalogue, categories, price_advice

HEAD_VECTOR_SQL = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(domain, '') || ' ' || replace(coalesce(category, ''), '/', ' ')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')"
)
VECTOR_SQL = f"{HEAD_VECTOR_SQL} || setweight(to_tsvector('english'::regconfig, coalesce(search_document, '')), 'D')"
POSTGRESQL_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"ALTER TABLE marketplace_listing ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({VECTOR_SQL}) STORED",
    # kept in the row, compressed (the document goes out to TOAST first): a word most listings hold is
    # matched by reading the table, and a TOASTed vector costs three buffers a row (bench/marketplace.py)
    "ALTER TABLE marketplace_listing ALTER COLUMN search_vector SET STORAGE MAIN",
    "CREATE INDEX marketplace_listing_search_vector_gin ON marketplace_listing USING gin (search_vector)",
    # what ranking reads: small enough to stay in the row, where the whole vector is TOASTed
    f"ALTER TABLE marketplace_listing ADD COLUMN search_rank_vector tsvector GENERATED ALWAYS AS ({HEAD_VECTOR_SQL}) STORED",
    'CREATE TABLE marketplace_search_word (word text COLLATE "C" PRIMARY KEY)',
    "CREATE INDEX marketplace_search_word_trgm ON marketplace_search_word USING gin (word gin_trgm_ops)",
    ("INSERT INTO marketplace_search_word (word) SELECT DISTINCT w FROM marketplace_listing, "
     "unnest(tsvector_to_array(to_tsvector('simple'::regconfig, search_document))) AS w "
     "WHERE length(w) BETWEEN 3 AND 40 ON CONFLICT DO NOTHING"),
]
POSTGRESQL_BACKWARD = [
    "DROP TABLE IF EXISTS marketplace_search_word",
    "DROP INDEX IF EXISTS marketplace_listing_search_vector_gin",
    "ALTER TABLE marketplace_listing DROP COLUMN IF EXISTS search_rank_vector",
    "ALTER TABLE marketplace_listing DROP COLUMN IF EXISTS search_vector",
]


def _model_card(job) -> str:
    from distillation.selectors import job_model_card

    return job_model_card(job=job) or ""


def _data_name(apps, job) -> str:
    ref = catalogue.job_data_ref(request=job.request or {}, estimate=job.estimate)
    if ref and not ref.startswith("builtin:"):
        try:
            dataset = apps.get_model("distillation", "Dataset").objects.filter(public_id=uuid.UUID(ref)).first()
        except ValueError:
            dataset = None
        return dataset.name if dataset is not None else ""
    return ref


def _cost(apps, job) -> int:
    hold = apps.get_model("ledger", "Hold").objects.filter(reference=f"job:{job.job_id}", state="settled").first()
    return hold.charged if hold is not None else int((job.estimate or {}).get("cost_units") or job.cost_estimate_ftns * 10**6)


def backfill(apps, schema_editor):
    Listing = apps.get_model("marketplace", "Listing")
    ListingFamily = apps.get_model("marketplace", "ListingFamily")
    Artifact = apps.get_model("distillation", "Artifact")
    families = defaultdict(list)
    for listing in Listing.objects.select_related("deployment__job", "deployment__artifact").order_by("created_at", "pk"):
        job = listing.deployment.job
        report = job.report or {}
        listing.task = listing.task or catalogue.job_task(request=job.request or {}, report=report, estimate=job.estimate)
        listing.category = listing.category or categories.category_assign(
            task=listing.task, domain=listing.domain, data=_data_name(apps, job))
        listing.size_bytes = listing.size_bytes or listing.deployment.artifact.size_bytes
        listing.compression = listing.compression or report.get("compression_ratio")
        listing.export_formats = listing.export_formats or catalogue.export_formats_field(
            Artifact.objects.filter(job=job, verified=True).values_list("format", flat=True))
        listing.search_document = listing.search_document or catalogue.search_document_text(
            title=listing.title, description=listing.description, category=listing.category, domain=listing.domain,
            model_card=_model_card(job))
        if listing.recommended_price is None:
            comparable = [p for p in Listing.objects.filter(category=listing.category, status="active")
                          .exclude(pk=listing.pk).values_list("price_buy", flat=True) if p]
            listing.recommended_price = price_advice.price_advice(
                cost=_cost(apps, job), retention=report.get("retention"), compression=report.get("compression_ratio"),
                comparable_prices=comparable).buy
        listing.save()
        if listing.family_id is None:
            families[(listing.owner_id, catalogue.lineage_key(request=job.request or {}, task=listing.task))].append(listing)
    for (owner_id, _), listings in families.items():
        family = ListingFamily.objects.create(owner_id=owner_id)
        for version, listing in enumerate(listings, start=1):
            Listing.objects.filter(pk=listing.pk).update(family=family, version=version)


def postgresql_search(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL_FORWARD:
            schema_editor.execute(statement)


def postgresql_search_undone(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('distillation', '0002_teacher_dataset_uploads'),
        ('ledger', '0003_promotional_credit'),
        ('marketplace', '0003_catalogue_families_bonuses'),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(postgresql_search, postgresql_search_undone),
    ]
