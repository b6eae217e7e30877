"""Interop with the Python `standardwebhooks` package, driven by tests/receiver.rs.

verify SECRET ID TIMESTAMP SIGNATURE BODY  -> exit 0 if the package accepts hookspec's signature
sign SECRET ID TIMESTAMP BODY              -> prints the package's signature header
"""

import datetime
import sys

from standardwebhooks.webhooks import Webhook

command, secret, msg_id, timestamp = sys.argv[1:5]
if command == "verify":
    signature, body = sys.argv[5], sys.argv[6]
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    Webhook(secret).verify(body, headers)
    print("verified")
elif command == "sign":
    when = datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.timezone.utc)
    print(Webhook(secret).sign(msg_id, when, sys.argv[5]))
else:
    sys.exit(f"unknown command {command}")
