"""Constructors shared by every Cocoon role: TCP packets, HTTP, token usage, the root config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from cocoon_desktop.network.tl.codec import TlObject, constructor


@constructor("tcp.ping", 0xBBE9627C, "tcp.Packet")
@dataclass(frozen=True)
class TcpPing(TlObject):
    id: Annotated[int, "long"]


@constructor("tcp.pong", 0x0BD4302C, "tcp.Packet")
@dataclass(frozen=True)
class TcpPong(TlObject):
    id: Annotated[int, "long"]


@constructor("tcp.packet", 0x9C17BAF8, "tcp.Packet")
@dataclass(frozen=True)
class TcpPacket(TlObject):
    data: Annotated[bytes, "bytes"]


@constructor("tcp.queryAnswer", 0xC048C311, "tcp.Packet")
@dataclass(frozen=True)
class TcpQueryAnswer(TlObject):
    id: Annotated[int, "long"]
    data: Annotated[bytes, "bytes"]


@constructor("tcp.queryError", 0x4CD2F602, "tcp.Packet")
@dataclass(frozen=True)
class TcpQueryError(TlObject):
    id: Annotated[int, "long"]
    code: Annotated[int, "int"]
    message: Annotated[str, "string"]


@constructor("tcp.query", 0x3AF51908, "tcp.Packet")
@dataclass(frozen=True)
class TcpQuery(TlObject):
    id: Annotated[int, "long"]
    data: Annotated[bytes, "bytes"]


@constructor("tcp.connected", 0x636D41D6, "tcp.Packet")
@dataclass(frozen=True)
class TcpConnected(TlObject):
    id: Annotated[int, "long"]


@constructor("tcp.connect", 0xA57C4261, "tcp.Packet")
@dataclass(frozen=True)
class TcpConnect(TlObject):
    id: Annotated[int, "long"]


@constructor("http.header", 0x8E9BE511, "http.Header")
@dataclass(frozen=True)
class HttpHeader(TlObject):
    name: Annotated[str, "string"]
    value: Annotated[str, "string"]


@constructor("http.response", 0x1CD0C42B, "http.Response")
@dataclass(frozen=True)
class HttpResponse(TlObject):
    http_version: Annotated[str, "string"]
    status_code: Annotated[int, "int"]
    reason: Annotated[str, "string"]
    headers: Annotated[list[HttpHeader], "vector http.header"]
    payload: Annotated[bytes, "bytes"]


@constructor("http.request", 0x47492DE5, "http.Response")
@dataclass(frozen=True)
class HttpRequest(TlObject):
    method: Annotated[str, "string"]
    url: Annotated[str, "string"]
    http_version: Annotated[str, "string"]
    headers: Annotated[list[HttpHeader], "vector http.header"]
    payload: Annotated[bytes, "bytes"]


@constructor("tokensUsed", 0x70C5B15C, "TokensUsed")
@dataclass(frozen=True)
class TokensUsed(TlObject):
    prompt_tokens_used: Annotated[int, "long"] = 0
    cached_tokens_used: Annotated[int, "long"] = 0
    completion_tokens_used: Annotated[int, "long"] = 0
    reasoning_tokens_used: Annotated[int, "long"] = 0
    total_tokens_used: Annotated[int, "long"] = 0


@constructor("rootConfig.registeredProxy", 0x9F4E446A, "rootConfig.RegisteredProxy")
@dataclass(frozen=True)
class RegisteredProxy(TlObject):
    seqno: Annotated[int, "int"]
    address: Annotated[str, "string"]


@constructor("rootConfig.pseudo", 0x87A976CC, "rootConfig.Config")
@dataclass(frozen=True)
class RootConfigPseudo(TlObject):
    """The fake-TON test format (upstream spec/fake-ton/fake-ton-config.json)."""

    proxy_hashes: Annotated[list[bytes], "vector int256"]
    worker_hashes: Annotated[list[bytes], "vector int256"]
    model_hashes: Annotated[list[bytes], "vector int256"]
    model_types: Annotated[list[str], "vector string"]
    registered_proxies: Annotated[list[RegisteredProxy], "vector rootConfig.registeredProxy"]
    price_per_token: Annotated[int, "int"]
    worker_fee_per_token: Annotated[int, "int"]
    last_proxy_seqno: Annotated[int, "int"]
    version: Annotated[int, "int"]
    params_version: Annotated[int, "int"]
    proxy_sc_code: Annotated[str, "string"]
    worker_sc_code: Annotated[str, "string"]
    client_sc_code: Annotated[str, "string"]
    root_owner_address: Annotated[str, "string"]


@constructor("rootConfig.configV5", 0x5E84869B, "rootConfig.Config")
@dataclass(frozen=True)
class RootConfigV5(TlObject):
    root_owner_address: Annotated[str, "string"]
    proxy_hashes: Annotated[list[bytes], "vector int256"]
    registered_proxies: Annotated[list[RegisteredProxy], "vector rootConfig.registeredProxy"]
    last_proxy_seqno: Annotated[int, "int"]
    worker_hashes: Annotated[list[bytes], "vector int256"]
    model_hashes: Annotated[list[bytes], "vector int256"]
    version: Annotated[int, "int"]
    struct_version: Annotated[int, "int"]
    params_version: Annotated[int, "int"]
    unique_id: Annotated[int, "int"]
    is_test: Annotated[int, "int"]
    price_per_token: Annotated[int, "long"]
    worker_fee_per_token: Annotated[int, "long"]
    prompt_tokens_price_multiplier: Annotated[int, "int"]
    cached_tokens_price_multiplier: Annotated[int, "int"]
    completion_tokens_price_multiplier: Annotated[int, "int"]
    reasoning_tokens_price_multiplier: Annotated[int, "int"]
    proxy_delay_before_close: Annotated[int, "int"]
    client_delay_before_close: Annotated[int, "int"]
    min_proxy_stake: Annotated[int, "long"]
    min_client_stake: Annotated[int, "long"]
    proxy_sc_code: Annotated[str, "string"]
    worker_sc_code: Annotated[str, "string"]
    client_sc_code: Annotated[str, "string"]
