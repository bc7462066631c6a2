"""Issue 15 (the first hour) with the real engine and the in-app devnet: "Send test jobs" moves
jobs, throughput and test-token earnings on the dashboard, the earnings chart and the tray; the
devnet's endpoint and token work for any OpenAI client; the dashboard leads with the current
rate; throughput is the chat's real speed; after Stop serving and Stop engine nothing stale
stays; conversations, the chat's settings and "was serving" survive a relaunch, and the app asks
once whether to resume serving."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.network.devnet.load import DevnetEndpoint
from cocoon_desktop.node.status import NodeState
from cocoon_desktop.settings import AppSettings, load_settings, save_settings
from cocoon_desktop.ui_logic.chat import GenerationParams

SLOW_MS = 240_000
pytestmark = pytest.mark.engine


async def openai_client(endpoint: DevnetEndpoint, model: str) -> tuple[list[str], str]:
    """What any OpenAI client does: list the models, ask one question (the token as API key)."""
    headers = {"Authorization": f"Bearer {endpoint.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{endpoint.base_url}/models") as response:
            models = [m["id"] for m in (await response.json())["data"]]
        body = {"model": model, "max_tokens": 8, "temperature": 0,
                "messages": [{"role": "user", "content": "Say hi."}]}
        async with session.post(f"{endpoint.base_url}/chat/completions", json=body) as response:
            answer = (await response.json())["choices"][0]["message"]["content"]
    return models, answer


def settings(paths: Any, **changes: Any) -> None:
    save_settings(paths.settings_file, AppSettings(
        wizard_completed=True, monitoring_interval_s=0.5, context_tokens=1024,
        max_active_requests=2, tariff_per_kwh=0.25, tariff_currency="EUR", **changes))


def test_test_jobs_move_the_dashboard_the_chart_and_the_tray(
        qtbot: Any, paths: Any, shell_factory: Any, run_async: Any) -> None:
    settings(paths)
    shell = shell_factory()  # this machine: no NVIDIA GPU, the CPU serves
    run_async(shell.start(), 30_000)
    dashboard = shell.windows.dashboard
    panel, card = dashboard.engine_panel, dashboard.devnet
    assert card is not None and card.isVisibleTo(dashboard)
    assert not card.send_button.isEnabled() and "start serving" in card.endpoint.text().lower()
    panel.serve_button.click()
    qtbot.waitUntil(lambda: shell.node.status.state is NodeState.SERVING, timeout=SLOW_MS)
    qtbot.waitUntil(card.send_button.isEnabled, timeout=10_000)
    assert panel.serve_button.text() == shell.tray.serve_action.text() == "Stop serving"

    # The endpoint and its token, shown and copyable, work for any OpenAI client.
    endpoint = shell.devnet.endpoint
    assert endpoint is not None and endpoint.base_url.startswith("http://127.0.0.1:")
    assert card.endpoint.text() == endpoint.base_url and card.token.text() == endpoint.token
    card.endpoint.copy_button.click()
    assert QGuiApplication.clipboard().text() == endpoint.base_url
    models, answer = run_async(openai_client(endpoint, shell.devnet.model), SLOW_MS)
    assert shell.devnet.model in models and answer.strip()

    chat_throughput_is_real(qtbot, shell)

    # Send test jobs: jobs, throughput and earnings move; the rate leads.
    card.send_button.click()
    assert card.send_button.text() == "Stop test jobs"
    qtbot.waitUntil(lambda: shell.devnet.counts.answered >= 4, timeout=SLOW_MS)
    qtbot.waitUntil(lambda: shell.earnings.view is not None
                    and shell.earnings.view.summary.last_hour.requests >= 5, timeout=60_000)
    rate = dashboard.glance.rate
    qtbot.waitUntil(lambda: rate.value.text() not in ("—", "0.00 TON/hour"), timeout=30_000)
    assert rate.value.text().endswith(" TON/hour")
    assert rate.caption.text() == "at the last hour's pace"
    assert "TON/day at this pace" in rate.note.text()
    qtbot.waitUntil(lambda: shell.tray.info_actions[2].text().startswith("Earning now: ")
                    and "TON/day" in shell.tray.info_actions[2].text()
                    and "0.00 TON/hour" not in shell.tray.info_actions[2].text(),
                    timeout=30_000)
    earnings = shell.windows.earnings
    earnings.show_period("day")
    assert max(earnings.chart.totals) > 0  # this hour's bar
    assert "sent" in card.counts.text() and "answered" in card.counts.text()
    card.send_button.click()  # stop
    qtbot.waitUntil(lambda: not shell.devnet.running, timeout=30_000)
    assert card.send_button.text() == "Send test jobs"
    sent = shell.devnet.counts.sent
    seen = shell.node.status.updated_at_unix
    qtbot.waitUntil(lambda: shell.node.status.updated_at_unix > seen + 2, timeout=30_000)
    assert shell.devnet.counts.sent == sent  # stopped means stopped

    earnings_page_says_why(qtbot, shell)
    nothing_stale_after_stopping(qtbot, shell)


def chat_throughput_is_real(qtbot: Any, shell: Any) -> None:
    """The panel's throughput a few seconds after a chat is the chat's speed (was 2.6 tokens/s
    after an answer at 53), and no "Thinking…" under text that already streams."""
    shell.windows.show_chat()
    under_text: list[str] = []

    def on_delta(_text: str) -> None:
        under_text.append(shell.windows.chat.messages[-1].stats.text())

    shell.chat.delta_received.connect(on_delta)
    shell.chat.set_params(GenerationParams(0.0, 1.0, 48))
    with qtbot.waitSignal(shell.chat.answer_finished, timeout=SLOW_MS) as finished:
        shell.chat.send("Explain in two sentences what a GPU does.")
    shell.chat.delta_received.disconnect(on_delta)
    assert under_text and set(under_text) == {""}
    chat_speed = finished.args[0].tokens_per_s
    ended = time.time()
    qtbot.waitUntil(lambda: shell.node.status.updated_at_unix > ended + 3, timeout=30_000)
    panel = shell.windows.dashboard.engine_panel
    shown = panel.values["Throughput"].text()
    assert "while generating" in shown
    assert float(shown.split()[0]) >= 0.5 * chat_speed, (shown, chat_speed)


def earnings_page_says_why(qtbot: Any, shell: Any) -> None:
    earnings = shell.windows.earnings
    shell.windows.main.show_page("Earnings")
    qtbot.waitUntil(lambda: earnings.table.rowCount() >= 5, timeout=30_000)
    net = earnings.figures["Net today"]
    assert net.value.text() == "—"  # a tariff, but no GPU energy reading on this machine
    assert net.note.isVisibleTo(earnings) and "not measured" in net.note.text()
    table = earnings.table
    energy, model = table.columnWidth(8), table.columnWidth(1)
    assert energy < 160 and model > energy, (energy, model)  # the model takes the room


def nothing_stale_after_stopping(qtbot: Any, shell: Any) -> None:
    panel = shell.windows.dashboard.engine_panel
    panel.serve_button.click()  # Stop serving
    qtbot.waitUntil(lambda: shell.node.status.state is NodeState.STOPPED, timeout=SLOW_MS)
    assert panel.values["Network jobs"].text() == "Not serving"
    assert not any("proxy connected" in label.text() for label in panel.values.values())
    assert shell.tray.info_actions[0].text() == "Not serving"
    assert "opens when you start serving" in shell.windows.dashboard.devnet.endpoint.text() \
        .lower()
    panel.engine_button.click()  # Stop engine
    qtbot.waitUntil(lambda: shell.engine.status.state is EngineState.STOPPED, timeout=SLOW_MS)
    assert panel.values["Throughput"].text() == panel.values["Engine load"].text() == \
        "Engine stopped"


def test_conversations_chat_settings_and_serving_survive_a_relaunch(
        qtbot: Any, paths: Any, shell_factory: Any, run_async: Any) -> None:
    settings(paths)
    first = shell_factory()
    run_async(first.start(), 30_000)
    window = first.windows.chat
    window.params.temperature.setValue(0.3)  # the sampling settings are kept
    window.params.max_tokens.setValue(12)
    qtbot.waitUntil(lambda: load_settings(paths.settings_file).settings.chat_temperature == 0.3,
                    timeout=10_000)
    with qtbot.waitSignal(first.chat.answer_finished, timeout=SLOW_MS):
        first.chat.send("Name a colour.")
    qtbot.waitUntil(lambda: window.chats.list.count() == 1, timeout=10_000)
    first.windows.dashboard.engine_panel.serve_button.click()
    qtbot.waitUntil(lambda: first.node.status.state is NodeState.SERVING, timeout=SLOW_MS)
    run_async(first.shutdown(10), SLOW_MS)
    kept = load_settings(paths.settings_file).settings
    assert kept.serving_at_quit and not kept.serve_on_start

    second = shell_factory()
    run_async(second.start(), 30_000)
    chat = second.windows.chat
    assert chat.params.temperature.value() == 0.3 and chat.params.max_tokens.value() == 12
    qtbot.waitUntil(lambda: chat.chats.list.count() == 1, timeout=10_000)
    assert chat.chats.list.item(0).text().startswith("Name a colour.")
    chat.chats.list.itemClicked.emit(chat.chats.list.item(0))  # open it, like LM Studio's list
    qtbot.waitUntil(lambda: len(chat.messages) == 2, timeout=10_000)
    assert chat.messages[0].text == "Name a colour." and chat.messages[1].text.strip()
    question = second.windows.resume_question  # asked once: it was serving when it quit
    assert question is not None and question.isVisible()
    assert question.text() == "Resume serving when the app starts?"
    no = next(b for b in question.buttons()
              if question.buttonRole(b) is QMessageBox.ButtonRole.NoRole)
    no.click()
    qtbot.waitUntil(lambda: load_settings(paths.settings_file).settings.resume_asked,
                    timeout=10_000)
    assert not second.node.status.wanted
    run_async(second.shutdown(10), SLOW_MS)

    third = shell_factory()
    run_async(third.start(), 30_000)
    assert third.windows.resume_question is None  # answered: never asked again
    run_async(third.shutdown(10), SLOW_MS)


def test_yes_resumes_serving_now_and_at_every_start(qtbot: Any, paths: Any, shell_factory: Any,
                                                     run_async: Any) -> None:
    settings(paths, serving_at_quit=True)
    shell = shell_factory()
    run_async(shell.start(), 30_000)
    question = shell.windows.resume_question
    assert question is not None
    yes = next(b for b in question.buttons()
               if question.buttonRole(b) is QMessageBox.ButtonRole.YesRole)
    yes.click()
    qtbot.waitUntil(lambda: shell.node.status.wanted, timeout=10_000)
    qtbot.waitUntil(lambda: load_settings(paths.settings_file).settings.serve_on_start,
                    timeout=10_000)
    qtbot.waitUntil(lambda: shell.node.status.state is NodeState.SERVING, timeout=SLOW_MS)
