"""A payment gateway speaking VNPay's published protocol (2.1.0), for the tests and the demo.

- GET  /paymentv2/vpcpay.html?vnp_...&vnp_SecureHash=...  the payment page (the signed redirect is
  checked): "Pay" or "Cancel". Either way the gateway notifies the merchant server to server (the
  IPN: GET on the merchant's IPN URL with the signed result) and sends the browser back to
  vnp_ReturnUrl with the same signed result.
- POST /merchant_webapi/api/transaction  the merchant API: `querydr` (what became of an order) and
  `refund`, JSON bodies signed with "|"-joined fields.
- POST /_control  {"mode": "normal" | "down" | "slow" | "malformed", "slow_seconds": 3, "send_ipn": true}:
  switches for tests (the API fails as told; the IPN can be withheld, as a lost notification is).
- GET  /_orders/<ref>  what the simulator holds of an order (tests read the IPN it sent to replay it).

Merchants: `home/merchants.json` ({code: {"secret": ..., "ipn_url": ...}}); without it, the demo
merchant ONESTOP1 (the pair onestop's settings default to when the simulator is mounted), whose IPN
goes to the return URL's origin + /payment/vnpay/ipn. State is kept in `home/orders.json`.
It knows nothing of onestop but the protocol: its signing is written here again on purpose, so that
a mistake in the adapter's is not mirrored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus, urlencode, urlsplit

from flask import Flask, abort, jsonify, redirect, render_template_string, request

DEMO_MERCHANTS = {"ONESTOP1": {"secret": "onestop-simulator-hash-secret", "ipn_url": None}}
_QUERY = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef", "vnp_TransactionDate",
          "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
_REFUND = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType", "vnp_TxnRef",
           "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate", "vnp_IpAddr",
           "vnp_OrderInfo")
_ANSWER = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef",
           "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType",
           "vnp_TransactionStatus", "vnp_OrderInfo")

PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Cổng thanh toán (mô phỏng)</title></head>
<body><main><h1>Cổng thanh toán (mô phỏng) — Payment gateway (simulator)</h1>
<dl><dt>Đơn hàng / Order</dt><dd id="order">{{ ref }}</dd>
<dt>Nội dung / For</dt><dd>{{ info }}</dd>
<dt>Số tiền / Amount</dt><dd id="amount">{{ "{:,}".format(amount).replace(",", ".") }} VND</dd></dl>
<form method="post" action="{{ action }}"><input type="hidden" name="ref" value="{{ ref }}">
<button name="choice" value="pay" id="pay">Thanh toán / Pay</button>
<button name="choice" value="cancel" id="cancel">Hủy / Cancel</button></form></main></body></html>"""


def _hash(text: str, secret: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def _query_string_hash(params: dict, secret: str) -> str:
    pairs = sorted((k, str(v)) for k, v in params.items()
                   if k.startswith("vnp_") and k not in ("vnp_SecureHash", "vnp_SecureHashType") and v != "")
    return _hash("&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs), secret)


def _now_vn() -> str:
    """The gateway's own time (Vietnam's), as it writes dates: a system outside onestop's business clock."""
    return (datetime(*time.gmtime()[:6]) + timedelta(hours=7)).strftime("%Y%m%d%H%M%S")


class _Store:
    """Orders and switches in one JSON file under home, behind a lock."""

    def __init__(self, home: Path):
        self.path, self.lock = home / "orders.json", threading.RLock()
        merchants = home / "merchants.json"
        self.merchants = json.loads(merchants.read_text()) if merchants.exists() else DEMO_MERCHANTS

    def read(self) -> dict:
        with self.lock:
            if self.path.exists():
                return json.loads(self.path.read_text())
            return {"orders": {}, "control": {"mode": "normal", "slow_seconds": 3, "send_ipn": True}, "next": 1}

    def write(self, state: dict) -> None:
        with self.lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(self.path)


def create_app(home: Path):
    """The gateway simulator's WSGI app, its state under `home`."""
    home.mkdir(parents=True, exist_ok=True)
    store = _Store(home)
    app = Flask(__name__)

    def secret_of(code):
        merchant = store.merchants.get(code or "")
        return merchant["secret"] if merchant else None

    @app.get("/paymentv2/vpcpay.html")
    def payment_page():
        params = request.args.to_dict()
        secret = secret_of(params.get("vnp_TmnCode"))
        if store.read()["control"]["mode"] == "down":
            return "Service Unavailable", 503
        if not secret or not hmac.compare_digest(params.get("vnp_SecureHash", "").lower(),
                                                 _query_string_hash(params, secret)):
            return "Sai chữ ký / Invalid signature (code 97)", 400
        try:
            amount = int(params["vnp_Amount"]) // 100
        except (KeyError, ValueError):
            return "Sai số tiền / Invalid amount (code 04)", 400
        with store.lock:
            state = store.read()
            order = state["orders"].setdefault(params["vnp_TxnRef"], {"status": "open"})
            order.update(merchant=params["vnp_TmnCode"], amount=amount, info=params.get("vnp_OrderInfo", ""),
                         return_url=params.get("vnp_ReturnUrl", ""), created=params.get("vnp_CreateDate", ""))
            store.write(state)
        return render_template_string(PAGE, ref=params["vnp_TxnRef"], info=params.get("vnp_OrderInfo", ""),
                                      amount=amount, action=request.script_root + "/paymentv2/decide")

    @app.post("/paymentv2/decide")
    def decide():
        ref, paid = request.form.get("ref", ""), request.form.get("choice") == "pay"
        with store.lock:
            state = store.read()
            order = state["orders"].get(ref)
            if order is None:
                abort(404)
            if order["status"] != "paid":
                order["status"] = "paid" if paid else "cancelled"
                order["transaction_no"] = str(14000000 + state["next"]) if paid else "0"
                order["pay_date"] = _now_vn()
                state["next"] += 1
            result = _result(order, ref, secret_of(order["merchant"]))
            order["ipn"] = result
            store.write(state)
        if state["control"].get("send_ipn", True):
            delivered = _notify(store, order, result)
            with store.lock:
                state = store.read()
                state["orders"][ref]["ipn_answer"] = delivered
                store.write(state)
        return redirect(f"{order['return_url']}?{urlencode(result)}", 302)

    @app.post("/merchant_webapi/api/transaction")
    def merchant_api():
        control = store.read()["control"]
        if control["mode"] == "down":
            return "Service Unavailable", 503
        if control["mode"] == "slow":
            time.sleep(float(control.get("slow_seconds", 3)))
        if control["mode"] == "malformed":
            return "<html>maintenance</html>", 200
        body = request.get_json(silent=True) or {}
        secret = secret_of(body.get("vnp_TmnCode"))
        fields = _REFUND if body.get("vnp_Command") == "refund" else _QUERY
        if not secret or not hmac.compare_digest(str(body.get("vnp_SecureHash", "")).lower(),
                                                 _hash("|".join(str(body.get(f, "")) for f in fields), secret)):
            return jsonify({"vnp_ResponseCode": "97", "vnp_Message": "Invalid Checksum"})
        return jsonify(_api_answer(store, body, secret))

    @app.post("/_control")
    def control():
        with store.lock:
            state = store.read()
            state["control"].update({k: v for k, v in (request.get_json(silent=True) or {}).items()
                                     if k in ("mode", "slow_seconds", "send_ipn")})
            store.write(state)
            return jsonify(state["control"])

    @app.get("/_orders/<ref>")
    def order(ref):
        found = store.read()["orders"].get(ref)
        return (jsonify(found), 200) if found else (jsonify({}), 404)

    return app


def _result(order: dict, ref: str, secret: str) -> dict:
    """The signed result the browser is sent back with and the IPN carries."""
    paid = order["status"] == "paid"
    result = {"vnp_Amount": str(order["amount"] * 100), "vnp_BankCode": "NCB",
              "vnp_BankTranNo": f"VNP{order['transaction_no']}" if paid else "", "vnp_CardType": "ATM",
              "vnp_OrderInfo": order["info"], "vnp_PayDate": order["pay_date"],
              "vnp_ResponseCode": "00" if paid else "24", "vnp_TmnCode": order["merchant"],
              "vnp_TransactionNo": order["transaction_no"], "vnp_TransactionStatus": "00" if paid else "02",
              "vnp_TxnRef": ref}
    result = {k: v for k, v in result.items() if v != ""}
    result["vnp_SecureHash"] = _query_string_hash(result, secret)
    return result


def _notify(store: _Store, order: dict, result: dict) -> str:
    """Send the IPN to the merchant (its configured URL, or the return URL's origin); its answer."""
    configured = (store.merchants.get(order["merchant"]) or {}).get("ipn_url")
    parts = urlsplit(order["return_url"])
    url = configured or f"{parts.scheme}://{parts.netloc}/payment/vnpay/ipn"
    try:
        with urllib.request.urlopen(f"{url}?{urlencode(result)}", timeout=10) as answer:  # noqa: S310 (http only)
            return answer.read().decode("utf-8", "replace")[:500]
    except OSError as exc:
        return f"not delivered: {type(exc).__name__}"


def _api_answer(store: _Store, body: dict, secret: str) -> dict:
    """The answer to `querydr` or `refund`, signed."""
    with store.lock:
        state = store.read()
        order = state["orders"].get(body.get("vnp_TxnRef", ""))
        command = body.get("vnp_Command")
        answer = {"vnp_ResponseId": body.get("vnp_RequestId", ""), "vnp_Command": command,
                  "vnp_TmnCode": body.get("vnp_TmnCode", ""), "vnp_TxnRef": body.get("vnp_TxnRef", "")}
        if order is None:
            answer.update(vnp_ResponseCode="91", vnp_Message="Transaction not found")
        elif command == "refund":
            if order["status"] != "paid":
                answer.update(vnp_ResponseCode="94" if order["status"] == "refunded" else "02",
                              vnp_Message="Refund not possible")
            else:
                order["status"] = "refunded"
                answer.update(vnp_ResponseCode="00", vnp_Message="Refund success", vnp_TransactionType="02",
                              vnp_TransactionStatus="05", vnp_Amount=str(order["amount"] * 100),
                              vnp_TransactionNo=order.get("transaction_no", ""))
                store.write(state)
        else:
            status = {"paid": "00", "refunded": "05", "cancelled": "02"}.get(order["status"], "01")
            answer.update(vnp_ResponseCode="00", vnp_Message="Query success", vnp_Amount=str(order["amount"] * 100),
                          vnp_BankCode="NCB", vnp_PayDate=order.get("pay_date", ""), vnp_TransactionType="01",
                          vnp_TransactionNo=order.get("transaction_no", ""), vnp_TransactionStatus=status,
                          vnp_OrderInfo=order.get("info", ""))
    answer["vnp_SecureHash"] = _hash("|".join(str(answer.get(f, "")) for f in _ANSWER), secret)
    return answer
