"""A FAKE of Stripe's API for the tests, and it says so (its ids carry `fake`): a real HTTP
server speaking the parts of the protocol the adapter uses — form-encoded requests with
bracketed keys, Bearer keys, Idempotency-Key, JSON objects with `object`, errors as
`{"error": {...}}` — for Checkout Sessions (create, retrieve) and refunds; and webhook
events signed as Stripe documents `Stripe-Signature` (t=…,v1=HMAC-SHA256 of "t.payload").
"""

import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_fake_madoguchi"
WEBHOOK_SECRET = "whsec_fake_madoguchi"


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class FakeStripe:
    def __init__(self):
        self.sessions: dict[str, dict] = {}
        self.refunds: list[dict] = []
        self.idempotent: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_next = 0  # answer the next N requests with a 500
        self.webhook_results = []
        self.lose_next_answer = 0  # do the next N POSTs, then answer 500 (a reply lost on the way)

        self.charges: dict[str, dict] = {}
        self.balance_transactions: list[dict] = []  # the balance's history, oldest first
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self, "GET", {})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                fake._handle(self, "POST", dict(parse_qsl(body, keep_blank_values=True)))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # What a customer does on the hosted page, and what Stripe then sends.
    def pay(self, session_id: str, amount: int | None = None) -> None:
        with self.lock:
            s = self.sessions[session_id]
            s.update(status="complete", payment_status="paid", payment_intent="pi_fake_" + secrets.token_hex(8))
            if amount is not None:
                s["amount_total"] = amount
            self._charge(s["payment_intent"], s["amount_total"], s.get("currency") or "jpy")

    def expire(self, session_id: str) -> None:
        with self.lock:
            self.sessions[session_id].update(status="expired")

    def event(self, kind: str, session_id: str, *, event_id: str | None = None) -> bytes:
        return json.dumps({"id": event_id or "evt_fake_" + secrets.token_hex(8), "object": "event", "type": kind,
                           "api_version": "2025-01-01", "created": int(time.time()), "livemode": False,
                           "data": {"object": dict(self.sessions.get(session_id) or {"id": session_id,
                                                                                      "object": "checkout.session"})}
                           }).encode()

    def _handle(self, h, method, form):
        if h.path.startswith("/c/pay/"):  # the hosted page, in the customer's browser (no API key)
            return self._hosted(h, method)
        self.requests.append((method, h.path))
        if h.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._send(h, 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
        if self.fail_next:
            self.fail_next -= 1
            return self._send(h, 500, {"error": {"type": "api_error", "message": "fake outage"}})
        key = h.headers.get("Idempotency-Key")
        if method == "POST" and key and key in self.idempotent:
            return self._raw(h, 200, self.idempotent[key])
        status, body = self._route(method, h.path, form)
        raw = json.dumps(body).encode()
        if method == "POST" and key and status == 200:
            self.idempotent[key] = raw
        if self.lose_next_answer and method == "POST":
            self.lose_next_answer -= 1
            return self._send(h, 500, {"error": {"type": "api_error", "message": "fake: done, answer lost"}})
        self._raw(h, status, raw)

    def _route(self, method, path, form):
        if method == "GET" and "?" in path:
            return self._list(path)
        with self.lock:
            if method == "POST" and path == "/v1/checkout/sessions":
                sid = "cs_test_fake_" + secrets.token_hex(12)
                s = {"id": sid, "object": "checkout.session", "mode": form.get("mode"), "status": "open",
                     "payment_status": "unpaid", "currency": form.get("line_items[0][price_data][currency]"),
                     "amount_total": int(form["line_items[0][price_data][unit_amount]"]) *
                     int(form.get("line_items[0][quantity]", "1")),
                     "client_reference_id": form.get("client_reference_id"), "success_url": form.get("success_url"),
                     "cancel_url": form.get("cancel_url"), "payment_intent": None,
                     "url": f"{self.base_url}/c/pay/{sid}", "livemode": False,
                     "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}}
                self.sessions[sid] = s
                s["created"] = int(time.time())
                return 200, s
            if method == "POST" and path.startswith("/v1/checkout/sessions/") and path.endswith("/expire"):
                s = self.sessions.get(path.split("/")[4])
                if s is None or s["status"] != "open":
                    return 400, {"error": {"type": "invalid_request_error",
                                           "message": "Only Checkout Sessions with a status of open can be expired"}}
                s["status"] = "expired"
                return 200, s
            if method == "GET" and path.startswith("/v1/checkout/sessions/"):
                s = self.sessions.get(path.rsplit("/", 1)[1])
                return (200, s) if s else (404, {"error": {"type": "invalid_request_error",
                                                           "message": "No such checkout.session"}})
            if method == "POST" and path == "/v1/refunds":
                paid = [s for s in self.sessions.values() if s["payment_intent"] == form.get("payment_intent")]
                done = sum(r["amount"] for r in self.refunds if r["payment_intent"] == form.get("payment_intent"))
                amount = int(form.get("amount", "0"))
                if not paid or amount <= 0 or done + amount > paid[0]["amount_total"]:
                    return 400, {"error": {"type": "invalid_request_error", "param": "amount",
                                           "message": "Refund amount is greater than unrefunded amount"}}
                r = {"id": "re_fake_" + secrets.token_hex(8), "object": "refund", "amount": amount,
                     "currency": "jpy", "payment_intent": form.get("payment_intent"), "status": "succeeded"}
                self.refunds.append(r)
                self._refunded(r)
                return 200, r
            return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}}

    # The hosted checkout page (FAKE): what the session's `url` shows the customer. Paying
    # settles the session, sends the signed checkout.session.completed webhook to
    # `webhook_url` (as Stripe would, before the customer is back) and redirects to success_url.
    webhook_url = ""
    webhook_results: list

    def _hosted(self, h, method):
        sid = h.path.split("/")[3].split("?")[0]
        s = self.sessions.get(sid)
        if s is None:
            return self._page(h, 404, "<h1>FAKE Stripe: no such session</h1>")
        if method == "POST" and s["status"] == "open":
            self.pay(sid)
            body = self.event("checkout.session.completed", sid)
            if self.webhook_url:
                import urllib.request

                request = urllib.request.Request(self.webhook_url, data=body, method="POST", headers={
                    "Content-Type": "application/json", "Stripe-Signature": sign(body)})
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        self.webhook_results.append((answer.status, json.loads(answer.read())))
                except Exception as exc:  # noqa: BLE001  (recorded for the test to see)
                    self.webhook_results.append((getattr(exc, "code", 0), str(exc)))
            h.send_response(303)
            h.send_header("Location", s["success_url"])
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        yen = f"{s['amount_total']:,}"
        form = ('<form method="post"><button type="submit">支払う（偽のStripe・テスト用）</button></form>'
                if s["status"] == "open" else f"<p>status: {s['status']}</p>")
        return self._page(h, 200, f"<header><p><strong>FAKE Stripe Checkout — a local test double, "
                                  f"not Stripe. Nothing is charged.</strong></p></header><main><h1>テスト用の偽の決済画面"
                                  f"</h1><p>お支払い金額: {yen}円</p>{form}</main>")

    def _page(self, h, status, body):
        raw = f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>FAKE Stripe Checkout</title>' \
              f'<meta name="viewport" content="width=device-width"></head><body>{body}</body></html>'.encode()
        h.send_response(status)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    def _send(self, h, status, body):
        self._raw(h, status, json.dumps(body).encode())

    def _raw(self, h, status, raw):
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Request-Id", "req_fake_" + secrets.token_hex(6))
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)


# --- The balance-transaction list (reconciliation) --------------------------------------
# GET /v1/balance_transactions and GET /v1/checkout/sessions as Stripe documents them: a
# list object {object: list, data, has_more, url}, newest first, `limit` 1–100 (default
# 10), `starting_after` an id of the previous page's last object, `created[gte|gt|lt|lte]`
# (Unix seconds), `expand[]=data.source` (balance transactions) and `payment_intent`
# (sessions). A card payment's transaction is type `charge` with a Charge as source and
# Stripe's fee (3.6%, its Japanese card rate); a refund's is type `refund`, negative, no fee.
FEE_RATE = 0.036


def _fake_charge(self, payment_intent, amount, currency, created=None):
    created = int(time.time()) if created is None else created
    charge = {"id": "ch_fake_" + secrets.token_hex(8), "object": "charge", "amount": amount, "currency": currency,
              "payment_intent": payment_intent, "paid": True, "status": "succeeded", "created": created}
    self.charges[charge["id"]] = charge
    fee = round(amount * FEE_RATE)
    self.balance_transactions.append(_txn(charge["id"], "charge", amount, fee, currency, created))
    return charge


def _fake_refunded(self, refund, created=None):
    created = int(time.time()) if created is None else created
    refund.setdefault("created", created)
    charge = next((c for c in self.charges.values() if c["payment_intent"] == refund["payment_intent"]), None)
    refund.setdefault("charge", charge["id"] if charge else None)
    self.balance_transactions.append(_txn(refund["id"], "refund", -refund["amount"], 0, refund["currency"], created))


def _txn(source, kind, amount, fee, currency, created):
    fee_details = [{"amount": fee, "currency": currency, "description": "Stripe processing fees",
                    "type": "stripe_fee"}] if fee else []
    return {"id": "txn_fake_" + secrets.token_hex(10), "object": "balance_transaction", "amount": amount,
            "available_on": created + 4 * 86400, "created": created, "currency": currency, "description": None,
            "exchange_rate": None, "fee": fee, "fee_details": fee_details, "net": amount - fee,
            "reporting_category": kind, "source": source, "status": "pending", "type": kind}


def _fake_foreign_charge(self, amount, *, created=None, currency="jpy"):
    """A charge made on the account outside madoguchi (no session of ours)."""
    with self.lock:
        return self._charge("pi_fake_" + secrets.token_hex(8), amount, currency, created)


def _fake_payout(self, amount, created=None):
    with self.lock:
        created = int(time.time()) if created is None else created
        self.balance_transactions.append(_txn("po_fake_" + secrets.token_hex(8), "payout", -amount, 0, "jpy",
                                              created))


def _created_filter(query, created):
    for op, test in (("gte", created.__ge__), ("gt", created.__gt__), ("lt", created.__lt__),
                     ("lte", created.__le__)):
        if f"created[{op}]" in query and not test(int(query[f"created[{op}]"])):
            return False
    if "created" in query and created != int(query["created"]):
        return False
    return True


def _fake_list(self, path):
    parts = urlsplit(path)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = dict(pairs)
    expand = [v for k, v in pairs if k == "expand[]" or k.startswith("expand[")]
    try:
        limit = int(query.get("limit", "10"))
        for op in ("gte", "gt", "lt", "lte"):
            int(query.get(f"created[{op}]", "0"))
    except ValueError:
        return 400, {"error": {"type": "invalid_request_error", "message": "Invalid integer", "param": "limit"}}
    if not 1 <= limit <= 100:
        return 400, {"error": {"type": "invalid_request_error", "param": "limit",
                               "message": "Invalid limit: must be between 1 and 100"}}
    with self.lock:
        if parts.path == "/v1/balance_transactions":
            rows = [t for t in self.balance_transactions if _created_filter(query, t["created"])]
        elif parts.path == "/v1/checkout/sessions":
            rows = [s for s in self.sessions.values() if _created_filter(query, s.get("created", 0))
                    and ("payment_intent" not in query or s["payment_intent"] == query["payment_intent"])]
        else:
            return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}}
        rows = sorted(rows, key=lambda r: (r.get("created", 0), r["id"]), reverse=True)  # newest first
        if query.get("starting_after"):
            ids = [r["id"] for r in rows]
            if query["starting_after"] not in ids:
                return 400, {"error": {"type": "invalid_request_error", "param": "starting_after",
                                       "message": f"No such object: '{query['starting_after']}'"}}
            rows = rows[ids.index(query["starting_after"]) + 1:]
        page, more = rows[:limit], len(rows) > limit
        if "data.source" in expand:
            page = [{**t, "source": self.charges.get(t["source"]) or next(
                (r for r in self.refunds if r["id"] == t["source"]), t["source"])} for t in page]
        return 200, {"object": "list", "data": [dict(r) for r in page], "has_more": more, "url": parts.path}


FakeStripe._charge = _fake_charge
FakeStripe._refunded = _fake_refunded
FakeStripe.foreign_charge = _fake_foreign_charge
FakeStripe.payout = _fake_payout
FakeStripe._list = _fake_list
