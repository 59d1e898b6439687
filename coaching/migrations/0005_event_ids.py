"""The records' `eid` (coaching/eventlog.py). Rows stored before keep NULL: their log
rows have no eid either (one default for every old row would make them all alike)."""

from django.db import migrations, models

import coaching.models

RECORDS = ("chatmessage", "feedback", "checkpoint", "annotation")


class Migration(migrations.Migration):
    dependencies = [
        ("coaching", "0004_swing_annotation"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name=name,
                name="eid",
                field=models.CharField(editable=False, max_length=16, null=True),
            )
            for name in RECORDS
        ),
        # New rows get one each (a default in Python only: no SQL).
        *(
            migrations.AlterField(
                model_name=name,
                name="eid",
                field=models.CharField(
                    default=coaching.models.new_event_id,
                    editable=False,
                    max_length=16,
                    null=True,
                ),
            )
            for name in RECORDS
        ),
    ]
