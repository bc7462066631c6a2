"""The worker's stats surface on loopback: token, upstream's JSON keys, Prometheus, controls."""

from __future__ import annotations

import aiohttp
import pytest

from cocoon_desktop.network.worker.http_stats import serve_stats
from cocoon_desktop.network.worker.stats import STAT_NAMES
from tests.helpers.devnet_harness import chat, scripted_engine, served_devnet, wait_until

TOKEN = "stats-test-token-0123456789"


@pytest.fixture
async def served():
    payouts: list[str] = []

    async def on_payout(proxy_sc: str) -> str:
        payouts.append(proxy_sc)
        return "request sent"

    async with scripted_engine() as engine, served_devnet(engine.endpoint) as (devnet, worker, _):
        runner, port = await serve_stats(worker, TOKEN, on_payout=on_payout)
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                yield devnet, worker, http, payouts
        finally:
            await runner.cleanup()


async def test_every_path_needs_the_token_in_either_form(served) -> None:
    _, _, http, _ = served
    async with http.get("/jsonstats") as resp:
        assert resp.status == 401 and "access_hash" in await resp.text()
    async with http.get("/jsonstats", headers={"Authorization": "Bearer nope"}) as resp:
        assert resp.status == 401
    async with http.get("/jsonstats", params={"access_hash": TOKEN}) as resp:
        assert resp.status == 200
    async with http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200


async def test_jsonstats_has_upstreams_keys_and_counters(served) -> None:
    devnet, _, http, _ = served
    assert (await chat(devnet, "hi"))[0] == 200
    async with http.get("/jsonstats", params={"access_hash": TOKEN}) as resp:
        doc = await resp.json()
    assert set(doc) >= {"status", "stats", "localconfig", "root_contract_config", "proxies"}
    assert set(doc["stats"]) == set(STAT_NAMES)
    assert all(len(v) == 7 for v in doc["stats"].values())
    assert doc["stats"]["queries"][0] == 1 and doc["stats"]["success"][0] == 1
    assert doc["stats"]["total_adjusted_tokens_used"][0] == 14
    assert doc["proxies"][0]["earned_tokens_committed_to_blockchain"] == 14
    assert doc["root_contract_config"]["worker_fee_per_token"] == 10
    assert doc["localconfig"]["coefficient"] == 1000


async def test_metrics_are_prometheus_text(served) -> None:
    devnet, _, http, _ = served
    await chat(devnet, "hi")
    async with http.get("/metrics", params={"access_hash": TOKEN}) as resp:
        text = await resp.text()
    assert "# TYPE cocoon_worker_requests_total counter" in text
    assert 'cocoon_worker_requests_total{result="success"} 1' in text
    assert "cocoon_worker_earned_nanoton_total 140" in text
    assert "cocoon_worker_proxies_connected 1" in text


async def test_controls_disable_enable_coefficient_and_payout(served) -> None:
    devnet, worker, http, payouts = served
    auth = {"access_hash": TOKEN}
    async with http.post("/request/disable", params=auth) as resp:
        assert "state updated" in await resp.text()
    assert not worker.accepting
    await wait_until(lambda: devnet.proxy.lines[0].is_disabled)
    async with http.post("/request/enable", params=auth):
        pass
    await wait_until(lambda: not devnet.proxy.lines[0].is_disabled)
    async with http.post("/request/change_coefficient", params=auth,
                         data={"coefficient": "1.5"}) as resp:
        assert "coefficient set to 1.5" in await resp.text()
    await wait_until(lambda: devnet.proxy.lines[0].coefficient == 1500)
    async with http.post("/request/change_coefficient", params={**auth, "coefficient": "x"}
                         ) as resp:
        assert resp.status == 400 and "failed to parse" in (await resp.json())["error"]
    async with http.post("/request/payout", params={**auth, "proxy": "nobody"}) as resp:
        assert "proxy not found" in await resp.text()
    proxy_sc = next(iter(worker.accounts))
    async with http.post("/request/payout", params={**auth, "proxy": proxy_sc}) as resp:
        assert "request sent" in await resp.text()
    assert payouts == [proxy_sc]


@pytest.mark.parametrize("path", ["/request/enable", "/request/disable", "/request/payout",
                                  "/request/change_coefficient"])
async def test_controls_refuse_a_get_and_change_nothing(served, path) -> None:
    _, worker, http, payouts = served
    worker.disable()
    params = {"access_hash": TOKEN, "coefficient": "2", "proxy": next(iter(worker.accounts))}
    async with http.get(path, params=params) as resp:
        assert resp.status == 405 and "send it as POST" in (await resp.json())["error"]
    assert not worker.accepting and worker.coefficient == 1000 and payouts == []


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "9" * 400, "1e400", "-1", "1e7"])
async def test_a_coefficient_out_of_range_is_a_json_400_and_the_node_keeps_serving(
        served, value) -> None:
    devnet, worker, http, _ = served
    async with http.post("/request/change_coefficient",
                         params={"access_hash": TOKEN, "coefficient": value}) as resp:
        assert resp.status == 400 and resp.content_type == "application/json"
        assert (await resp.json())["error"]
    assert worker.coefficient == 1000
    assert (await chat(devnet, "still there?"))[0] == 200
