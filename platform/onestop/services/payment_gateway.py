"""The payment gateway's protocol (VNPay's, version 2.1.0: the one Vietnamese gateways share the shape
of): the signed redirect that sends the applicant's browser to the gateway's payment page, the
signed parameters the gateway sends back (to the browser's return URL and, server to server, to the
merchant's IPN URL), and the two server calls of its merchant API: `querydr` (what became of an
order: the reconciliation) and `refund`.

Signing, as the gateway publishes it: the redirect's and the notification's `vnp_*` parameters,
sorted by name, URL-encoded (`quote_plus`) and joined as a query string, are hashed with
HMAC-SHA512 under the merchant's secret (`vnp_SecureHash`, hex). The API calls sign their fields
joined by "|" in the order the protocol fixes.

Nothing here touches the database; a failure to reach the gateway (down, slow, an answer that is
not the protocol's or not signed by it) is a GatewayError the caller turns into an incident.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote_plus, urlencode

VERSION = "2.1.0"
# The IPN answers the gateway expects (RspCode): it retries the notification unless told 00 or 02.
IPN_CONFIRMED, IPN_UNKNOWN_ORDER, IPN_ALREADY_CONFIRMED, IPN_WRONG_AMOUNT, IPN_BAD_SIGNATURE, IPN_ERROR = (
    "00", "01", "02", "04", "97", "99")
IPN_MESSAGES = {IPN_CONFIRMED: "Confirm Success", IPN_UNKNOWN_ORDER: "Order not found",
                IPN_ALREADY_CONFIRMED: "Order already confirmed", IPN_WRONG_AMOUNT: "Invalid amount",
                IPN_BAD_SIGNATURE: "Invalid signature", IPN_ERROR: "Unknown error"}
PAID = "00"  # vnp_ResponseCode and vnp_TransactionStatus of a successful payment
_QUERY_FIELDS = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef", "vnp_TransactionDate",
                 "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
_REFUND_FIELDS = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType", "vnp_TxnRef",
                  "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate",
                  "vnp_IpAddr", "vnp_OrderInfo")
_ANSWER_FIELDS = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef",
                  "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType",
                  "vnp_TransactionStatus", "vnp_OrderInfo")
_VN = timedelta(hours=7)  # the gateway's dates are Vietnam's local time, yyyyMMddHHmmss


class GatewayError(Exception):
    """The gateway could not be reached or answered outside its protocol; `kind` says how
    (down, slow, malformed, refused)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Gateway:
    """Where the gateway is and who the merchant is: its base URL (the payment page is
    `{url}/paymentv2/vpcpay.html`, the API `{url}/merchant_webapi/api/transaction`), the merchant's
    terminal code (vnp_TmnCode) and hashing secret."""

    url: str
    merchant: str
    secret: str
    timeout_seconds: float = 10.0

    def __repr__(self):  # never the secret in a log line
        return f"Gateway(url={self.url!r}, merchant={self.merchant!r})"


def sign(params: dict, secret: str) -> str:
    """The redirect's or the notification's signature: its vnp_* parameters (but the hash's own),
    sorted, URL-encoded, HMAC-SHA512 under the secret, as hex."""
    signed = sorted((k, str(v)) for k, v in params.items()
                    if k.startswith("vnp_") and k not in ("vnp_SecureHash", "vnp_SecureHashType") and v != "")
    text = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in signed)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def verify(params: dict, secret: str) -> bool:
    """Whether the parameters carry the signature the secret gives them (compared in constant time)."""
    given = str(params.get("vnp_SecureHash") or "")
    return bool(given) and hmac.compare_digest(given.lower(), sign(params, secret))


def _sign_fields(values: dict, fields, secret: str) -> str:
    text = "|".join(str(values.get(f, "")) for f in fields)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def gateway_time(at: datetime) -> str:
    """A UTC instant as the gateway writes dates (Vietnam's local time, yyyyMMddHHmmss)."""
    return (at + _VN).strftime("%Y%m%d%H%M%S")


def payment_url(gateway: Gateway, order_ref: str, amount: int, info: str, return_url: str, ip: str,
                now: datetime, locale: str = "vn", minutes: int = 15) -> str:
    """The address the applicant's browser is sent to, to pay `amount` VND for the order."""
    params = {"vnp_Version": VERSION, "vnp_Command": "pay", "vnp_TmnCode": gateway.merchant,
              "vnp_Amount": str(amount * 100), "vnp_CurrCode": "VND", "vnp_TxnRef": order_ref,
              "vnp_OrderInfo": info, "vnp_OrderType": "other", "vnp_Locale": locale, "vnp_ReturnUrl": return_url,
              "vnp_IpAddr": ip or "127.0.0.1", "vnp_CreateDate": gateway_time(now),
              "vnp_ExpireDate": gateway_time(now + timedelta(minutes=minutes))}
    params["vnp_SecureHash"] = sign(params, gateway.secret)
    return f"{gateway.url}/paymentv2/vpcpay.html?{urlencode(params)}"


def query(gateway: Gateway, order_ref: str, info: str, ordered_at: datetime, now: datetime) -> dict:
    """What the gateway knows of the order (`querydr`): its checked answer, with vnp_ResponseCode
    "00" and vnp_TransactionStatus "00" when it was paid; GatewayError if it cannot tell."""
    body = {"vnp_RequestId": secrets.token_hex(16), "vnp_Version": VERSION, "vnp_Command": "querydr",
            "vnp_TmnCode": gateway.merchant, "vnp_TxnRef": order_ref, "vnp_OrderInfo": info,
            "vnp_TransactionDate": gateway_time(ordered_at), "vnp_CreateDate": gateway_time(now),
            "vnp_IpAddr": "127.0.0.1"}
    body["vnp_SecureHash"] = _sign_fields(body, _QUERY_FIELDS, gateway.secret)
    return _call(gateway, body)


def refund(gateway: Gateway, order_ref: str, amount: int, transaction_no: str, info: str, paid_at: datetime,
           now: datetime, by: str) -> dict:
    """Give the whole amount back (`refund`, type 02); the checked answer (vnp_ResponseCode "00":
    done); GatewayError if the gateway cannot be reached or answers outside its protocol."""
    body = {"vnp_RequestId": secrets.token_hex(16), "vnp_Version": VERSION, "vnp_Command": "refund",
            "vnp_TmnCode": gateway.merchant, "vnp_TransactionType": "02", "vnp_TxnRef": order_ref,
            "vnp_Amount": str(amount * 100), "vnp_TransactionNo": transaction_no or "",
            "vnp_TransactionDate": gateway_time(paid_at), "vnp_CreateBy": by[:100],
            "vnp_CreateDate": gateway_time(now), "vnp_IpAddr": "127.0.0.1", "vnp_OrderInfo": info}
    body["vnp_SecureHash"] = _sign_fields(body, _REFUND_FIELDS, gateway.secret)
    return _call(gateway, body)


@functools.cache
def _http():
    """The process's pool of connections to the gateway, made at the first call (a command that pays
    nothing does not import urllib3)."""
    import urllib3

    return urllib3.PoolManager(retries=False)


def _call(gateway: Gateway, body: dict) -> dict:
    """POST the signed body to the merchant API; the answer, once its signature is checked."""
    import urllib3

    try:
        response = _http().request("POST", f"{gateway.url}/merchant_webapi/api/transaction", body=json.dumps(body),
                                 headers={"Content-Type": "application/json"},
                                 timeout=urllib3.Timeout(total=gateway.timeout_seconds))
    except urllib3.exceptions.NewConnectionError:  # refused (urllib3 files it under the timeouts)
        raise GatewayError("down", "the payment gateway cannot be reached (connection refused)") from None
    except urllib3.exceptions.TimeoutError:
        raise GatewayError("slow", f"the payment gateway did not answer within {gateway.timeout_seconds:g} s") from None
    except urllib3.exceptions.HTTPError as exc:
        raise GatewayError("down", f"the payment gateway cannot be reached ({type(exc).__name__})") from None
    if response.status >= 500:
        raise GatewayError("down", f"the payment gateway answered HTTP {response.status}")
    try:
        answer = json.loads(response.data)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("vnp_ResponseCode"), str):
        raise GatewayError("malformed", f"the payment gateway's answer (HTTP {response.status}) is not its protocol's")
    if not hmac.compare_digest(str(answer.get("vnp_SecureHash") or "").lower(),
                               _sign_fields(answer, _ANSWER_FIELDS, gateway.secret)):
        raise GatewayError("malformed", "the payment gateway's answer is not signed with the merchant's secret")
    return answer
