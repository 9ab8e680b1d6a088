"""The marketplace's figures (issue #15): search server time over 10,000 listings on PostgreSQL, the query
plans, and the server time of each marketplace page.

    .venv/bin/python bench/marketplace.py                       # 10,000 listings, 50 timed runs each
    .venv/bin/python bench/marketplace.py --listings 2000 --runs 10   # a quick look

1. A throwaway PostgreSQL database (``prsm_bench_marketplace`` on the server of ``DATABASE_URL``, default
   postgres://postgres@127.0.0.1:5432/prsm), made by Django's test-database machinery, so every migration
   runs (migration 0004 builds the search column, the vocabulary and their GIN indexes), and dropped at
   the end. 10,000 listings are bulk-created with realistic text: titles, descriptions and model cards of
   about 1,500 characters drawn per category from its own words (and three made-up team names
   each, so the vocabulary is the size a real catalogue's is), with jobs, exports and deployments under
   them, ratings on a third of them; the vocabulary of typo correction is filled as migration 0004 fills
   it, and the database is vacuumed and analysed, as autovacuum would after a bulk load. Seller0 has 25 listings and real sales: one buyer bought 20 of them
   through ``services.listing_purchase`` (the ledger's sale, as a buyer pays).
2. Search server time: ``selectors.listing_search`` for each query, as the search page uses it (the first
   page of 20 and the count), warm-up then ``--runs`` runs: p50, p95. Goal: p95 under 50 ms.
3. ``EXPLAIN (ANALYZE, BUFFERS)`` of a word query, a misspelt word's correction and a filtered query:
   the GIN indexes in use.
4. Each marketplace page through Django's test Client (the whole request cycle, middleware, sessions,
   templates; no socket; without the test environment's template instrumentation, which copies every
   template's context and no server pays): search with and without words and filters, the API's
   search, a listing, the library, the selling dashboard. Goal: p95 under 100 ms.

Nothing is mocked; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: its ledger.py would shadow the ledger app
from bench._common import cpu_model, percentile, print_machine, table  # noqa: E402

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/prsm"
DATABASE_NAME = "prsm_bench_marketplace"
SEARCH_GOAL_MS, PAGE_GOAL_MS = 50, 100
SELLER_LISTINGS = 25
PASSWORD = "correct horse battery"  # nosec B105  # throwaway accounts on the bench's throwaway database

# per category: title nouns, description phrases and model-card words of its domain
VOCABULARY = {
    "text/sentiment": ("sentiment", ["movie review sentiment", "product review polarity", "tweet emotion",
                                     "customer feedback mood", "restaurant review opinion"],
                       "positive negative opinion review polarity emotion sentences comments praise complaint"),
    "text/topic": ("news", ["news topic sorter", "headline category", "article genre", "forum thread topic"],
                   "headlines articles politics sport business science world topics categories"),
    "text/spam": ("spam", ["sms spam filter", "email junk detector", "phishing message flagger"],
                  "spam junk phishing messages links scams senders inbox"),
    "text/toxicity": ("toxicity", ["toxic comment flagger", "abuse detector", "hate speech screen"],
                      "toxic abusive insults harassment moderation comments threats"),
    "text/intent": ("intent", ["support intent router", "chatbot intent tagger"],
                    "intents support questions refunds orders dialogue assistant"),
    "image/clothing": ("fashion", ["fashion item classifier", "clothing type tagger", "apparel sorter"],
                       "shirts sneakers trousers dresses coats sandals bags clothes grey photos"),
    "image/digits": ("digits", ["handwritten digits reader", "postcode digit recogniser", "mnist classifier"],
                     "handwritten digits numbers pixels scans postcodes cheques"),
    "image/objects": ("objects", ["object recogniser", "animal photo tagger", "vehicle classifier"],
                      "cats dogs cars planes ships birds frogs horses trucks photos"),
    "image/medical": ("medical imaging", ["chest x-ray screen", "skin lesion triage", "retina scan grader"],
                      "radiology lesions scans clinicians triage pneumonia melanoma retina"),
    "tabular/medical": ("medical", ["breast cancer screening", "diabetes risk", "heart disease predictor"],
                        "patients clinical measurements diagnosis malignant benign glucose cholesterol"),
    "tabular/finance": ("finance", ["credit risk scorer", "fraud detector", "loan default predictor", "churn model"],
                        "credit loans fraud transactions default applicants banking churn customers"),
    "tabular/chemistry": ("chemistry", ["wine origin classifier", "molecule property predictor"],
                          "wine cultivars chemical analysis alcohol acidity molecules solubility"),
}
TASK_OF = {"text": "text", "image": "image", "tabular": "tabular"}
ADJECTIVES = ["tiny", "small", "fast", "compact", "distilled", "efficient", "quantised", "mobile", "edge", "lite"]
GENERIC = ("This model was distilled by PRSM from a larger teacher. It keeps most of the teacher's accuracy at a "
           "fraction of its size and latency. Intended use: batch and online inference on CPUs and small devices. "
           "Limitations: measured on a held-out split of the training data only; check it on your own data before "
           "relying on it. Evaluation: accuracy, calibration, robustness to small perturbations and a bias probe "
           "were run after training; every check passed its threshold. Training: knowledge distillation with a "
           "temperature of 4, a blend of soft and hard targets, early stopping on validation accuracy. Exports were "
           "verified against the PyTorch student within a small absolute difference.")
SEARCHES = [
    ("word: sentiment", {"q": "sentiment"}),
    ("two words: fashion classifier", {"q": "fashion classifier"}),
    ("rare words: breast cancer screening", {"q": "breast cancer screening"}),
    ("common word: model (all listings)", {"q": "model"}),
    ("typo: sentimnet", {"q": "sentimnet"}),
    ("typo: fasion", {"q": "fasion"}),
    ("word + 3 filters: sentiment, retention>=0.9, price<=50, onnx", {"q": "sentiment", "min_retention": 0.9,
                                                                     "max_price": 50_000_000, "export_format": "onnx"}),
    ("word + category, by price", {"q": "fraud", "category": "tabular/finance", "ordering": "price"}),
    ("no words: newest", {}),
    ("no words: category + min rating, by rating", {"category": "image/clothing", "min_rating": 4, "ordering": "-rating"}),
    ("no words: task + max latency + max size, fastest", {"task": "text", "max_latency_ms": 5,
                                                          "max_size_bytes": 20_000_000, "ordering": "speed"}),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50, help="timed runs per query and per page")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database (drop it by hand afterwards)")
    return parser.parse_args()



def machine() -> dict:
    import django

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "django": django.get_version(), "load_avg_1m": round(os.getloadavg()[0], 2)}


def main() -> int:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-marketplace-"))
    os.environ.update({"DJANGO_SETTINGS_MODULE": "prsm_site.settings.base", "DEBUG": "0", "LOG_LEVEL": "WARNING",
                       "MEDIA_ROOT": str(scratch / "media"), "PRSM_NAMESPACE": f"prsm-bench-marketplace-{os.getpid()}"})
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"] = POSTGRES_URL
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    print_machine("bench/marketplace.py: search over 10,000 listings, query plans, marketplace pages", machine())
    # the test Client's host, without setup_test_environment(): its instrumented template rendering copies
    # every template's context for assertions, which no server pays (a page of 25 forms took twice as long)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    connection.settings_dict["TEST"]["NAME"] = DATABASE_NAME
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        with connection.cursor() as cursor:
            cursor.execute("show server_version")
            print(f"## postgresql {cursor.fetchone()[0]}, database {connection.settings_dict['NAME']}", flush=True)
        world = populate(args.listings, random.Random(args.seed))  # nosec B311 - seeded made-up data, not secrets
        rows = [search_time(name, filters, args.runs) for name, filters in SEARCHES]
        print(table(rows))
        print(f"goal: search p95 < {SEARCH_GOAL_MS} ms; {sum(r['result'] == 'FAIL' for r in rows)} over\n", flush=True)
        plans()
        rows = page_times(world, args.runs)
        print(table(rows))
        print(f"goal: p95 < {PAGE_GOAL_MS} ms per page; {sum(r['result'] == 'FAIL' for r in rows)} over\n", flush=True)
    finally:
        connection.close()
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


# --- The data: bulk rows under the listings, real purchases for the library and the dashboard


def populate(count: int, rng: random.Random) -> dict:
    from accounts.services import user_create
    from ledger.amounts import UNITS_PER_FTNS
    from ledger.services import ledger_deposit_post

    started = time.perf_counter()
    sellers = [user_create(username=f"seller{n}", password=PASSWORD, email=f"seller{n}@example.com") for n in range(50)]
    buyer = user_create(username="buyer", password=PASSWORD, email="buyer@example.com")
    ledger_deposit_post(user=buyer, amount=100_000 * UNITS_PER_FTNS, external_reference="bench-marketplace-buyer")
    listings = bulk_listings(count, sellers, rng)
    bulk_ratings(listings, sellers, rng)
    words_and_statistics()
    seller = sellers[0]
    bought = purchases(buyer, [listing for listing in listings if listing.owner_id == seller.pk][:20])
    print(f"data: {count:,} listings of {len(sellers)} sellers ({sum(1 for x in listings if x.owner_id == seller.pk)} "
          f"of seller0), {bought} purchases by one buyer; {time.perf_counter() - started:.1f} s", flush=True)
    return {"seller": seller, "buyer": buyer, "listing": listings[len(listings) // 2]}


SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "qui", "del", "sor", "ne", "bal", "tri", "gu", "fen", "ox", "pra"]


def _names(rng: random.Random, count: int) -> list[str]:
    """Made-up words (the teams, projects and places model cards name), for a vocabulary of realistic size."""
    return sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(count)})


def _text(rng: random.Random, category: str, names: list[str]) -> dict:
    domain, nouns, words = VOCABULARY[category]
    noun = rng.choice(nouns)
    title = f"{rng.choice(ADJECTIVES).capitalize()} {noun} {rng.choice(['v1', 'v2', 'mini', 'base', 'xs', '2026'])}"
    chosen = rng.sample(words.split(), k=min(5, len(words.split())))
    description = f"A {rng.choice(ADJECTIVES)} {noun} model for {domain}: {', '.join(chosen)}."
    card = (f"# {title}\n\n{description}\n\n## Use\n\n{noun.capitalize()} on {', '.join(rng.sample(words.split(), 3))}.\n\n"
            f"## Figures\n\n| metric | teacher | student |\n|---|---|---|\n| accuracy | 0.{rng.randint(90, 99)} | "
            f"0.{rng.randint(80, 97)} |\n\n{GENERIC}\n\nMade by the {' '.join(rng.sample(names, 3))} team.\n")
    return {"title": title, "description": description, "domain": domain, "card": card}


def bulk_listings(count: int, sellers, rng: random.Random) -> list:
    from distillation.models import Artifact, DeployedModel, DistillationJob
    from marketplace.catalogue import search_document_text
    from marketplace.models import Listing, ListingFamily

    categories = list(VOCABULARY)
    names = _names(rng, 20_000)
    texts = [(rng.choice(categories), index) for index in range(count)]
    # seller0 has the first SELLER_LISTINGS; the others share the rest
    owner = lambda index: sellers[0] if index < SELLER_LISTINGS else sellers[1 + index % (len(sellers) - 1)]  # noqa: E731
    jobs = DistillationJob.objects.bulk_create([DistillationJob(
        owner=owner(index), status="completed", progress=100, current_stage="done", backend="pytorch",
        backend_reason="bench", cost_estimate_ftns=20, engine_config={},
        request={"teacher_model": f"catalog:{category.split('/')[1]}-teacher", "domain": category.split("/")[1]},
        estimate={"cost_units": 20_000_000},
        report={"task": category.split("/")[0], "retention": 0.8, "compression_ratio": 8.0}) for category, index in texts],
        batch_size=1000)
    artifacts = Artifact.objects.bulk_create([Artifact(job=job, format="onnx", path=f"jobs/{job.job_id}/model.onnx",
                                                       sha256="0" * 64, size_bytes=rng.randint(50_000, 90_000_000),
                                                       verified=True) for job in jobs], batch_size=1000)
    deployments = DeployedModel.objects.bulk_create([DeployedModel(job=job, artifact=artifact)
                                                     for job, artifact in zip(jobs, artifacts)], batch_size=1000)
    families = ListingFamily.objects.bulk_create([ListingFamily(owner=job.owner) for job in jobs], batch_size=1000)
    rows = []
    for (category, _), job, deployment, family in zip(texts, jobs, deployments, families):
        text = _text(rng, category, names)
        buy = rng.randint(1, 200) * 500_000
        rows.append(Listing(
            deployment=deployment, owner=job.owner, title=text["title"], description=text["description"],
            domain=text["domain"], price_buy=buy, price_rent=buy // 5 if rng.random() < 0.7 else None,
            retention=round(rng.uniform(0.7, 0.99), 3), latency_ms=round(rng.uniform(0.2, 40), 2),
            family=family, version=1, category=category, task=category.split("/")[0],
            size_bytes=deployment.artifact.size_bytes, compression=round(rng.uniform(2, 40), 1),
            export_formats=rng.choice([",onnx,", ",onnx,pth,", ",onnx,safetensors,", ",onnx,onnx-int8,"]),
            recommended_price=buy,
            search_document=search_document_text(title=text["title"], description=text["description"],
                                                 category=category, domain=text["domain"], model_card=text["card"])))
    return Listing.objects.bulk_create(rows, batch_size=1000)


def bulk_ratings(listings, raters, rng: random.Random) -> None:
    from marketplace.models import Rating

    Rating.objects.bulk_create([Rating(listing=listing, rater=rater, stars=rng.randint(1, 5))
                                for listing in listings[::3] for rater in rng.sample(raters, 3)
                                if rater.pk != listing.owner_id], batch_size=2000)


def words_and_statistics() -> None:
    import importlib

    from django.db import connection

    migration = importlib.import_module("marketplace.migrations.0004_catalogue_backfill_and_search")
    with connection.cursor() as cursor:
        cursor.execute(migration.POSTGRESQL_FORWARD[-1])  # the vocabulary, as the migration fills it
        cursor.execute("SELECT count(*) FROM marketplace_search_word")
        print(f"vocabulary: {cursor.fetchone()[0]:,} words", flush=True)
        # bulk inserts wait in the GIN indexes' pending lists until a vacuum (autovacuum's, on a server)
        cursor.execute("VACUUM ANALYZE")


def purchases(buyer, listings) -> int:
    from marketplace import services

    for listing in listings:
        services.listing_purchase(listing=listing, buyer=buyer, kind="buy", expected_price=listing.price_buy)
    return len(listings)


# --- Search, plans, pages


def search_time(name: str, filters: dict, runs: int) -> dict:
    from marketplace.selectors import listing_search

    def once() -> tuple[int, int]:
        results = listing_search(**filters)
        return len(list(results[:20])), results.count()

    for _ in range(3):
        once()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        shown, total = once()
        times.append((time.perf_counter() - started) * 1000)
    p95 = percentile(times, 0.95)
    return {"query": name, "found": total, "shown": shown, "p50 ms": f"{statistics.median(times):.1f}",
            "p95 ms": f"{p95:.1f}", "result": "ok" if p95 < SEARCH_GOAL_MS else "FAIL"}


def plans() -> None:
    from django.db import connection

    from marketplace import search
    from marketplace.selectors import listing_search

    queries = [("word: sentiment, first page", listing_search(q="sentiment")[:20]),
               ("word + filters", listing_search(q="sentiment", min_retention=0.9, export_format="onnx")[:20])]
    with connection.cursor() as cursor:
        for name, queryset in queries:
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            print(f"### EXPLAIN ANALYZE: {name}\n```\n" + "\n".join(row[0] for row in cursor.fetchall()) + "\n```")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) SELECT word FROM marketplace_search_word WHERE word %% %s "
                       "ORDER BY similarity(word, %s) DESC, word LIMIT 3", ["sentimnet", "sentimnet"])
        print("### EXPLAIN ANALYZE: the typo's correction (sentimnet)\n```\n"
              + "\n".join(row[0] for row in cursor.fetchall()) + "\n```")
    print(f"correction: sentimnet -> {search._postgresql_close_words('sentimnet')}, "
          f"fasion -> {search._postgresql_close_words('fasion')}\n", flush=True)


def page_times(world: dict, runs: int) -> list[dict]:
    from django.test import Client

    visitor, buyer, seller = Client(), Client(), Client()
    buyer.force_login(world["buyer"])
    seller.force_login(world["seller"])
    listing = world["listing"].listing_id
    pages = [("/marketplace/ (newest)", visitor, "/marketplace/"),
             ("/marketplace/?q=sentiment", visitor, "/marketplace/?q=sentiment"),
             ("/marketplace/?q=fasion (typo)", visitor, "/marketplace/?q=fasion"),
             ("/marketplace/?q=sentiment + 4 filters", visitor,
              "/marketplace/?q=sentiment&task=text&min_retention=90&max_price=50&export_format=onnx&ordering=price"),
             ("/marketplace/ htmx results", visitor, "/marketplace/?q=fraud&category=tabular%2Ffinance"),
             ("/api/v1/marketplace/models/?q=sentiment", visitor, "/api/v1/marketplace/models/?q=sentiment"),
             ("/marketplace/<id>/ (visitor)", visitor, f"/marketplace/{listing}/"),
             ("/marketplace/<id>/ (buyer)", buyer, f"/marketplace/{listing}/"),
             ("/marketplace/<id>/suggestions/ (htmx, after the page)", visitor, f"/marketplace/{listing}/suggestions/"),
             ("/marketplace/library/ (20 bought)", buyer, "/marketplace/library/"),
             ("/marketplace/selling/ (25 listings, 20 sold)", seller, "/marketplace/selling/")]
    return [page_time(name, client, path, runs, htmx="htmx" in name) for name, client, path in pages]


def page_time(name: str, client, path: str, runs: int, *, htmx: bool = False) -> dict:
    from django.db import connection

    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for _ in range(3):
        response = client.get(path, **headers)
    queries = []  # counted by a wrapper: a request's start resets the connection's own query log
    with connection.execute_wrapper(lambda execute, sql, params, many, context: queries.append(sql) or
                                    execute(sql, params, many, context)):
        client.get(path, **headers)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path, **headers)
        times.append((time.perf_counter() - started) * 1000)
    p95 = percentile(times, 0.95)
    return {"page": name, "status": response.status_code, "queries": len(queries),
            "p50 ms": f"{statistics.median(times):.1f}", "p95 ms": f"{p95:.1f}",
            "result": "ok" if p95 < PAGE_GOAL_MS and response.status_code == 200 else "FAIL"}


if __name__ == "__main__":
    sys.exit(main())
