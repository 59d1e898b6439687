"""`LOG_FORMAT=json`: one JSON object per line, for a log shipper.

Each line has `ts` (UTC, ISO 8601), `level`, `logger` and `message`, and where the
record knows them `request_id` (REST: coaching/request_ids.py), `socket_id`,
`user_id`, `topic`, `code`, `duration_ms` and `exception`. What the app logs never
carries a chat text, a token, a password or a signed URL (tests/test_log_format.py).
"""

import json
import logging
from datetime import UTC, datetime

# Record attributes copied into the line when present (given with `extra=`, or by a filter).
CONTEXT = ("request_id", "socket_id", "user_id", "topic", "code", "duration_ms", "status")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)
