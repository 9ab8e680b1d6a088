"""Promotional credit: a second account per user (``promo:<user id>``) that the signup grant goes to.

Only the account table changes; the append-only triggers on entries and transactions are untouched.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0002_append_only_triggers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='account',
            name='ledger_account_wallet_has_a_user',
        ),
        migrations.AlterField(
            model_name='account',
            name='kind',
            field=models.CharField(choices=[('wallet', 'User wallet'), ('promo', 'Promotional credit (pays for jobs only)'), ('platform_revenue', 'Platform revenue'), ('holds', 'Job budget holds (escrow)'), ('catalog_teachers', "Catalog teachers' access fees and shares"), ('issuance', 'Issuance (grants and deposits come from here)')], max_length=32),
        ),
        migrations.AlterField(
            model_name='account',
            name='user',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='ftns_accounts', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='account',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind__in', ['wallet', 'promo']), ('user__isnull', False)), models.Q(models.Q(('kind__in', ['wallet', 'promo']), _negated=True), ('user__isnull', True)), _connector='OR'), name='ledger_account_user_accounts_have_a_user'),
        ),
        migrations.AddConstraint(
            model_name='account',
            constraint=models.UniqueConstraint(fields=('user', 'kind'), name='ledger_account_one_per_user_and_kind'),
        ),
    ]
