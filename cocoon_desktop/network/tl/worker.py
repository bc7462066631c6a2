"""Constructors of the worker <-> proxy session (worker.*, proxy.*)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from cocoon_desktop.network.tl.base import TokensUsed
from cocoon_desktop.network.tl.codec import TlObject, constructor


@constructor("proxy.signedPayment", 0x02998182, "proxy.SignedPayment")
@dataclass(frozen=True)
class SignedPayment(TlObject):
    data: Annotated[bytes, "bytes"]


@constructor("proxy.signedPaymentEmpty", 0xB347CE64, "proxy.SignedPayment")
@dataclass(frozen=True)
class SignedPaymentEmpty(TlObject):
    pass


@constructor("worker.params", 0x869C73ED, "worker.Params")
@dataclass(frozen=True)
class WorkerParams(TlObject):
    flags: Annotated[int, "#"] = 0
    worker_owner_address: Annotated[str, "string"] = ""
    model: Annotated[str, "string"] = ""
    coefficient: Annotated[int, "int"] = 1000
    is_test: Annotated[bool | None, "flags.0?Bool"] = None
    proxy_cnt: Annotated[int | None, "flags.0?int"] = None
    max_active_requests: Annotated[int | None, "flags.0?int"] = None
    min_proto_version: Annotated[int | None, "flags.1?int"] = None
    max_proto_version: Annotated[int | None, "flags.1?int"] = None


@constructor("proxy.params", 0xD5C5609F, "proxy.Params")
@dataclass(frozen=True)
class ProxyParams(TlObject):
    flags: Annotated[int, "#"] = 0
    proxy_public_key: Annotated[bytes, "int256"] = b"\x00" * 32
    proxy_owner_address: Annotated[str, "string"] = ""
    proxy_sc_address: Annotated[str, "string"] = ""
    is_test: Annotated[bool | None, "flags.0?Bool"] = None
    proto_version: Annotated[int | None, "flags.1?int"] = None


@constructor("proxy.queryAnswer", 0x37E5F725, "proxy.QueryAnswer")
@dataclass(frozen=True)
class ProxyQueryAnswer(TlObject):
    answer: Annotated[bytes, "bytes"]
    is_completed: Annotated[bool, "Bool"]
    request_id: Annotated[bytes, "int256"]
    tokens_used: Annotated[TokensUsed, "tokensUsed"]


@constructor("proxy.queryAnswerError", 0x669D014E, "proxy.QueryAnswer")
@dataclass(frozen=True)
class ProxyQueryAnswerError(TlObject):
    error_code: Annotated[int, "int"]
    error: Annotated[str, "string"]
    request_id: Annotated[bytes, "int256"]
    tokens_used: Annotated[TokensUsed, "tokensUsed"]


@constructor("proxy.queryAnswerPart", 0x72EB00EE, "proxy.QueryAnswerPart")
@dataclass(frozen=True)
class ProxyQueryAnswerPart(TlObject):
    answer: Annotated[bytes, "bytes"]
    is_completed: Annotated[bool, "Bool"]
    request_id: Annotated[bytes, "int256"]
    tokens_used: Annotated[TokensUsed, "tokensUsed"]


@constructor("proxy.queryAnswerPartError", 0x940E1168, "proxy.QueryAnswerPart")
@dataclass(frozen=True)
class ProxyQueryAnswerPartError(TlObject):
    error_code: Annotated[int, "int"]
    error: Annotated[str, "string"]
    request_id: Annotated[bytes, "int256"]
    tokens_used: Annotated[TokensUsed, "tokensUsed"]


@constructor("proxy.queryFinalInfo", 0xE794E6FC, "proxy.QueryFinalInfo")
@dataclass(frozen=True)
class ProxyQueryFinalInfo(TlObject):
    flags: Annotated[int, "#"] = 0
    tokens_used: Annotated[TokensUsed, "tokensUsed"] = field(default_factory=TokensUsed)
    worker_debug: Annotated[str | None, "flags.0?string"] = None
    worker_start_time: Annotated[float | None, "flags.1?double"] = None
    worker_end_time: Annotated[float | None, "flags.1?double"] = None


@constructor("proxy.queryAnswerEx", 0x1CE574E8, "proxy.QueryAnswerEx")
@dataclass(frozen=True)
class ProxyQueryAnswerEx(TlObject):
    request_id: Annotated[bytes, "int256"]
    answer: Annotated[bytes, "bytes"]
    flags: Annotated[int, "#"] = 0
    final_info: Annotated[ProxyQueryFinalInfo | None, "flags.0?proxy.queryFinalInfo"] = None


@constructor("proxy.queryAnswerErrorEx", 0x8F7FB0A7, "proxy.QueryAnswerEx")
@dataclass(frozen=True)
class ProxyQueryAnswerErrorEx(TlObject):
    request_id: Annotated[bytes, "int256"]
    error_code: Annotated[int, "int"]
    error: Annotated[str, "string"]
    flags: Annotated[int, "#"] = 0
    final_info: Annotated[ProxyQueryFinalInfo | None, "flags.0?proxy.queryFinalInfo"] = None


@constructor("proxy.queryAnswerPartEx", 0x6D85B50F, "proxy.QueryAnswerEx")
@dataclass(frozen=True)
class ProxyQueryAnswerPartEx(TlObject):
    request_id: Annotated[bytes, "int256"]
    answer: Annotated[bytes, "bytes"]
    flags: Annotated[int, "#"] = 0
    final_info: Annotated[ProxyQueryFinalInfo | None, "flags.0?proxy.queryFinalInfo"] = None


@constructor("proxy.workerRequestPayment", 0x1436C0D5, "proxy.WorkerRequestPayment")
@dataclass(frozen=True)
class ProxyWorkerRequestPayment(TlObject):
    request_id: Annotated[bytes, "int256"]
    signed_payment: Annotated[SignedPayment | SignedPaymentEmpty, "proxy.SignedPayment"]
    db_tokens: Annotated[int, "long"]
    max_tokens: Annotated[int, "long"]
    request_tokens: Annotated[int, "long"]
    request_client_owner: Annotated[str, "string"]


@constructor("proxy.clientRequestPayment", 0xC6BCF127, "proxy.WorkerRequestPayment")
@dataclass(frozen=True)
class ProxyClientRequestPayment(TlObject):
    request_id: Annotated[bytes, "int256"]
    signed_payment: Annotated[SignedPayment | SignedPaymentEmpty, "proxy.SignedPayment"]
    db_tokens: Annotated[int, "long"]
    max_tokens: Annotated[int, "long"]
    request_tokens: Annotated[int, "long"]


@constructor("proxy.runQuery", 0x47182416, "proxy.QueryAnswer")
@dataclass(frozen=True)
class ProxyRunQuery(TlObject):
    query: Annotated[bytes, "bytes"]
    signed_payment: Annotated[SignedPayment | SignedPaymentEmpty, "proxy.SignedPayment"]
    coefficient: Annotated[int, "long"]
    timeout: Annotated[float, "double"]
    request_id: Annotated[bytes, "int256"]


@constructor("proxy.runQueryEx", 0xC805E7E2, "proxy.QueryAnswer")
@dataclass(frozen=True)
class ProxyRunQueryEx(TlObject):
    query: Annotated[bytes, "bytes"]
    signed_payment: Annotated[SignedPayment | SignedPaymentEmpty, "proxy.SignedPayment"]
    coefficient: Annotated[int, "long"]
    timeout: Annotated[float, "double"]
    request_id: Annotated[bytes, "int256"]
    flags: Annotated[int, "#"] = 0
    enable_debug: Annotated[bool | None, "flags.0?Bool"] = None


@constructor("worker.enabledDisabled", 0xB3B71039, "worker.EnabledDisabled")
@dataclass(frozen=True)
class WorkerEnabledDisabled(TlObject):
    disabled: Annotated[int, "int"]


@constructor("worker.newCoefficient", 0x6AF092B0, "worker.NewCoefficient")
@dataclass(frozen=True)
class WorkerNewCoefficient(TlObject):
    new_coefficient: Annotated[int, "int"]


@constructor("worker.connectedToProxy", 0x66BC82EE, "worker.ConnectedToProxy")
@dataclass(frozen=True)
class WorkerConnectedToProxy(TlObject):
    params: Annotated[ProxyParams, "proxy.params"]
    worker_sc_address: Annotated[str, "string"]


@constructor("worker.compareBalanceWithProxyResult", 0x9054C411,
             "worker.CompareBalanceWithProxyResult")
@dataclass(frozen=True)
class WorkerCompareBalanceResult(TlObject):
    signed_payment: Annotated[SignedPayment | SignedPaymentEmpty, "proxy.SignedPayment"]
    tokens_committed_to_db: Annotated[int, "long"]
    max_tokens: Annotated[int, "long"]
    error_code: Annotated[int, "int"]


@constructor("worker.extendedCompareBalanceWithProxyResult", 0x0C10973E,
             "worker.ExtendedCompareBalanceWithProxyResult")
@dataclass(frozen=True)
class WorkerExtendedCompareBalanceResult(TlObject):
    error_code: Annotated[int, "int"]


@constructor("worker.proxyHandshakeCompleted", 0x3AD9B886, "worker.HandshakeCompleted")
@dataclass(frozen=True)
class WorkerHandshakeCompleted(TlObject):
    pass


@constructor("worker.paymentStatus", 0xA88BD701, "worker.PaymentStatus")
@dataclass(frozen=True)
class WorkerPaymentStatus(TlObject):
    signed_payment: Annotated[SignedPayment | SignedPaymentEmpty, "proxy.SignedPayment"]
    db_tokens: Annotated[int, "long"]
    max_tokens: Annotated[int, "long"]


@constructor("worker.connectToProxy", 0xCC484C5D, "worker.ConnectedToProxy")
@dataclass(frozen=True)
class WorkerConnectToProxy(TlObject):
    params: Annotated[WorkerParams, "worker.params"]


@constructor("worker.compareBalanceWithProxy", 0xDB386501, "worker.CompareBalanceWithProxyResult")
@dataclass(frozen=True)
class WorkerCompareBalance(TlObject):
    tokens_committed_to_blockchain: Annotated[int, "long"]
    tokens_committed_to_db: Annotated[int, "long"]
    max_tokens: Annotated[int, "long"]


@constructor("worker.extendedCompareBalanceWithProxy", 0xF8DD9914,
             "worker.ExtendedCompareBalanceWithProxyResult")
@dataclass(frozen=True)
class WorkerExtendedCompareBalance(TlObject):
    tokens_committed_to_db: Annotated[int, "long"]
    other: Annotated[bytes, "bytes"]


@constructor("worker.proxyHandshakeComplete", 0xF843B066, "worker.HandshakeCompleted")
@dataclass(frozen=True)
class WorkerHandshakeComplete(TlObject):
    is_disabled: Annotated[bool, "Bool"]


@constructor("worker.updatePaymentStatus", 0xDC70A524, "worker.PaymentStatus")
@dataclass(frozen=True)
class WorkerUpdatePaymentStatus(TlObject):
    pass
