"""A transaction kind for marketplace bonuses (paid from the platform's revenue; marketplace/bonuses.py).

Only the choices change: no SQL runs, and the append-only triggers are untouched.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0003_promotional_credit'),
    ]

    operations = [
        migrations.AlterField(
            model_name='transaction',
            name='kind',
            field=models.CharField(choices=[('signup_grant', 'Signup grant'), ('grant', 'Staff grant'), ('deposit', 'Deposit'), ('transfer', 'Transfer'), ('hold', 'Job budget hold'), ('settle', 'Job settlement'), ('release', 'Hold released'), ('refund', 'Hold refunded'), ('sale', 'Marketplace sale'), ('reversal', 'Reversal'), ('bonus', 'Marketplace bonus')], max_length=32),
        ),
    ]
