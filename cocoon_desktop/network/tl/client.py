"""Constructors of the client <-> proxy session (client.*), used by the devnet client and proxy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from cocoon_desktop.network.tl.base import TokensUsed
from cocoon_desktop.network.tl.codec import TlObject, constructor
from cocoon_desktop.network.tl.worker import ProxyParams, SignedPayment, SignedPaymentEmpty

Payment = SignedPayment | SignedPaymentEmpty


@constructor("client.params", 0x40FDCA64, "client.Params")
@dataclass(frozen=True)
class ClientParams(TlObject):
    flags: Annotated[int, "#"] = 0
    client_owner_address: Annotated[str, "string"] = ""
    is_test: Annotated[bool | None, "flags.0?Bool"] = None
    min_proto_version: Annotated[int | None, "flags.1?int"] = None
    max_proto_version: Annotated[int | None, "flags.1?int"] = None


@constructor("client.proxyConnectionAuthShort", 0xD6FFC5AF, "client.ProxyConnectionAuth")
@dataclass(frozen=True)
class ClientAuthShort(TlObject):
    secret_hash: Annotated[bytes, "int256"]
    nonce: Annotated[int, "long"]


@constructor("client.proxyConnectionAuthLong", 0x417BF016, "client.ProxyConnectionAuth")
@dataclass(frozen=True)
class ClientAuthLong(TlObject):
    nonce: Annotated[int, "long"]


@constructor("client.authorizationWithProxySuccess", 0x75D5AC34, "client.AuthorizationWithProxy")
@dataclass(frozen=True)
class ClientAuthorizationSuccess(TlObject):
    signed_payment: Annotated[Payment, "proxy.SignedPayment"]
    tokens_committed_to_db: Annotated[int, "long"]
    max_tokens: Annotated[int, "long"]


@constructor("client.authorizationWithProxyFailed", 0x60551C96, "client.AuthorizationWithProxy")
@dataclass(frozen=True)
class ClientAuthorizationFailed(TlObject):
    error_code: Annotated[int, "int"]
    error: Annotated[str, "string"]


@constructor("client.connectedToProxy", 0x95317AD1, "client.ConnectedToProxy")
@dataclass(frozen=True)
class ClientConnectedToProxy(TlObject):
    params: Annotated[ProxyParams, "proxy.params"]
    client_sc_address: Annotated[str, "string"]
    auth: Annotated[ClientAuthShort | ClientAuthLong, "client.ProxyConnectionAuth"]
    signed_payment: Annotated[Payment, "proxy.SignedPayment"]


@constructor("client.queryAnswer", 0x9B943922, "client.QueryAnswer")
@dataclass(frozen=True)
class ClientQueryAnswer(TlObject):
    answer: Annotated[bytes, "bytes"]
    is_completed: Annotated[bool, "Bool"]
    request_id: Annotated[bytes, "int256"]
    request_tokens_used: Annotated[TokensUsed, "tokensUsed"]


@constructor("client.queryAnswerError", 0x6D60569A, "client.QueryAnswer")
@dataclass(frozen=True)
class ClientQueryAnswerError(TlObject):
    error_code: Annotated[int, "int"]
    error: Annotated[str, "string"]
    request_id: Annotated[bytes, "int256"]
    request_tokens_used: Annotated[TokensUsed, "tokensUsed"]


@constructor("client.queryAnswerPart", 0xB765DE4C, "client.QueryAnswerPart")
@dataclass(frozen=True)
class ClientQueryAnswerPart(TlObject):
    answer: Annotated[bytes, "bytes"]
    is_completed: Annotated[bool, "Bool"]
    request_id: Annotated[bytes, "int256"]
    request_tokens_used: Annotated[TokensUsed, "tokensUsed"]


@constructor("client.queryAnswerPartError", 0xD790A022, "client.QueryAnswerPart")
@dataclass(frozen=True)
class ClientQueryAnswerPartError(TlObject):
    error_code: Annotated[int, "int"]
    error: Annotated[str, "string"]
    request_id: Annotated[bytes, "int256"]
    request_tokens_used: Annotated[TokensUsed, "tokensUsed"]


@constructor("client.queryFinalInfo", 0x69A452F0, "client.QueryFinalInfo")
@dataclass(frozen=True)
class ClientQueryFinalInfo(TlObject):
    flags: Annotated[int, "#"] = 0
    tokens_used: Annotated[TokensUsed, "tokensUsed"] = field(default_factory=TokensUsed)
    worker_debug: Annotated[str | None, "flags.0?string"] = None
    proxy_debug: Annotated[str | None, "flags.0?string"] = None
    proxy_start_time: Annotated[float | None, "flags.1?double"] = None
    proxy_end_time: Annotated[float | None, "flags.1?double"] = None
    worker_start_time: Annotated[float | None, "flags.1?double"] = None
    worker_end_time: Annotated[float | None, "flags.1?double"] = None


@constructor("client.queryAnswerEx", 0xCD524720, "client.QueryAnswerEx")
@dataclass(frozen=True)
class ClientQueryAnswerEx(TlObject):
    request_id: Annotated[bytes, "int256"]
    answer: Annotated[bytes, "bytes"]
    flags: Annotated[int, "#"] = 0
    final_info: Annotated[ClientQueryFinalInfo | None, "flags.0?client.queryFinalInfo"] = None


@constructor("client.queryAnswerErrorEx", 0x072562A8, "client.QueryAnswerEx")
@dataclass(frozen=True)
class ClientQueryAnswerErrorEx(TlObject):
    request_id: Annotated[bytes, "int256"]
    error_code: Annotated[int, "int"]
    error: Annotated[str, "string"]
    flags: Annotated[int, "#"] = 0
    final_info: Annotated[ClientQueryFinalInfo | None, "flags.0?client.queryFinalInfo"] = None


@constructor("client.queryAnswerPartEx", 0xC07BFAEC, "client.QueryAnswerEx")
@dataclass(frozen=True)
class ClientQueryAnswerPartEx(TlObject):
    request_id: Annotated[bytes, "int256"]
    answer: Annotated[bytes, "bytes"]
    flags: Annotated[int, "#"] = 0
    final_info: Annotated[ClientQueryFinalInfo | None, "flags.0?client.queryFinalInfo"] = None


@constructor("client.workerInstanceV2", 0x3EA93D00, "client.WorkerInstanceV2")
@dataclass(frozen=True)
class ClientWorkerInstanceV2(TlObject):
    flags: Annotated[int, "#"] = 0
    coefficient: Annotated[int, "int"] = 1000
    active_requests: Annotated[int, "int"] = 0
    max_active_requests: Annotated[int, "int"] = 0


@constructor("client.workerTypeV2", 0xB27D8197, "client.WorkerTypeV2")
@dataclass(frozen=True)
class ClientWorkerTypeV2(TlObject):
    name: Annotated[str, "string"]
    workers: Annotated[list[ClientWorkerInstanceV2], "vector client.workerInstanceV2"]


@constructor("client.workerTypesV2", 0x0CF0DC67, "client.WorkerTypesV2")
@dataclass(frozen=True)
class ClientWorkerTypesV2(TlObject):
    types: Annotated[list[ClientWorkerTypeV2], "vector client.workerTypeV2"]


@constructor("client.connectToProxy", 0xFF5FA0F4, "client.ConnectedToProxy")
@dataclass(frozen=True)
class ClientConnectToProxy(TlObject):
    params: Annotated[ClientParams, "client.params"]
    min_config_version: Annotated[int, "int"]


@constructor("client.authorizeWithProxyShort", 0x6C276723, "client.AuthorizationWithProxy")
@dataclass(frozen=True)
class ClientAuthorizeShort(TlObject):
    data: Annotated[bytes, "bytes"]


@constructor("client.authorizeWithProxyLong", 0xD3474303, "client.AuthorizationWithProxy")
@dataclass(frozen=True)
class ClientAuthorizeLong(TlObject):
    pass


@constructor("client.runQueryEx", 0xF54CB74B, "client.QueryAnswerEx")
@dataclass(frozen=True)
class ClientRunQueryEx(TlObject):
    model_name: Annotated[str, "string"]
    query: Annotated[bytes, "bytes"]
    max_coefficient: Annotated[int, "int"]
    max_tokens: Annotated[int, "int"]
    timeout: Annotated[float, "double"]
    request_id: Annotated[bytes, "int256"]
    min_config_version: Annotated[int, "int"]
    flags: Annotated[int, "#"] = 0
    enable_debug: Annotated[bool | None, "flags.0?Bool"] = None


@constructor("client.getWorkerTypesV2", 0xB2133D72, "client.WorkerTypesV2")
@dataclass(frozen=True)
class ClientGetWorkerTypesV2(TlObject):
    pass


@constructor("client.updatePaymentStatus", 0x9ED1C697, "client.PaymentStatus")
@dataclass(frozen=True)
class ClientUpdatePaymentStatus(TlObject):
    pass


@constructor("client.paymentStatus", 0xAA8A0ECC, "client.PaymentStatus")
@dataclass(frozen=True)
class ClientPaymentStatus(TlObject):
    signed_payment: Annotated[Payment, "proxy.SignedPayment"]
    db_tokens: Annotated[int, "long"]
    max_tokens: Annotated[int, "long"]
