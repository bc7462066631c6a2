"""What the Settings screen shows, without Qt: sections, fields, help, and human values for what
is stored in machine form ("Local devnet (on this computer)" for `devnet`, "1.00 × the network
price" for a coefficient of 1000, "All that fit" for -1 GPU layers)."""

from __future__ import annotations

from dataclasses import dataclass

from cocoon_desktop.settings import NetworkKind, ServeFrom, Theme

COEFFICIENT_PER_1X = 1000  # Cocoon's price coefficient: 1000 is the network's price


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    help: str = ""
    low: float = 0
    high: float = 0
    step: float = 1
    suffix: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (stored value, what people read)
    scale: float = 1  # shown = stored / scale
    decimals: int = 2
    special: str = ""  # what the lowest value reads as, e.g. "All that fit"

    def shown(self, stored: float) -> float:
        return stored / self.scale

    def stored(self, shown: float) -> float | int:
        value = shown * self.scale
        return round(value) if self.scale != 1 else value


THEMES = ((Theme.SYSTEM.value, "Follow the desktop"), (Theme.LIGHT.value, "Light"),
          (Theme.DARK.value, "Dark"))
NETWORKS = ((NetworkKind.DEVNET.value, "Local devnet (on this computer)"),
            (NetworkKind.TESTNET.value, "Cocoon test network"),
            (NetworkKind.MAINNET.value, "Cocoon mainnet"))
SERVE_FROM = ((ServeFrom.SANDBOX.value, "This computer's sandbox"),
              (ServeFrom.VM.value, "A confidential VM"))

SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    ("Appearance and desktop", (
        FieldSpec("theme", "Theme", choices=THEMES),
        FieldSpec("notifications", "Notifications", "Payouts, protection pauses, engine crashes."),
        FieldSpec("autostart", "Start at login"),
        FieldSpec("start_minimized", "Start in the tray"),
    )),
    ("Serving", (
        FieldSpec("network", "Network", choices=NETWORKS),
        FieldSpec("network_endpoint", "Network endpoint",
                  "A root-config JSON file of the network, optionally followed by a space and "
                  "a proxy's host:port; empty uses the network's default."),
        FieldSpec("ton_config_path", "TON liteserver config",
                  "A global-config JSON file; empty uses the network's public config."),
        FieldSpec("coefficient", "Your price", "What you ask per token: 1 × is the "
                  "network's price; more earns more per job, but proxies prefer cheaper workers.",
                  0.001, 1000, 0.05, " × the network price", scale=COEFFICIENT_PER_1X),
        FieldSpec("max_active_requests", "Max parallel jobs", "", 1, 256),
        FieldSpec("serve_from", "Serve from",
                  "A confidential VM decrypts network jobs' prompts only inside a measured "
                  "virtual machine: attested on Intel TDX (mainnet needs it), isolated with "
                  "KVM, else emulated and slow. The set-up wizard's check says which this "
                  "computer can run.",
                  choices=SERVE_FROM),
        FieldSpec("serve_on_start", "Serve when the app starts"),
    )),
    ("GPU protection", (
        FieldSpec("pause_temperature_c", "Pause at", "", 40, 100, suffix=" °C"),
        FieldSpec("resume_temperature_c", "Resume below", "", 30, 95, suffix=" °C"),
        FieldSpec("pause_on_throttle", "Pause on slowdowns", "Pause when the GPU slows itself "
                  "down (heat, power)."),
        FieldSpec("vram_headroom_mib", "Keep VRAM free", "", 0, 65536, 256, " MiB"),
        FieldSpec("game_mode_processes", "Game mode programs",
                  "One program name per line; serving pauses and the model unloads while one "
                  "runs."),
        FieldSpec("monitoring_interval_s", "Monitoring interval", "", 0.2, 60, 0.5, " s"),
    )),
    ("Money", (
        FieldSpec("tariff_per_kwh", "Electricity price", "Per kWh, for earnings net of "
                  "electricity; 0 leaves them out.", 0, 100, 0.01),
        FieldSpec("tariff_currency", "Currency", "A three-letter code such as USD or EUR."),
        FieldSpec("ton_price", "Price of one TON", "In the currency above, for earnings net of "
                  "electricity; 0 leaves net figures out (the app never guesses a rate).",
                  0, 1_000_000, 0.1),
        FieldSpec("payout_threshold_ton", "Payout threshold", "", 0, 1_000_000, 0.5, " TON"),
    )),
    ("Model", (
        FieldSpec("gpu_layers", "GPU layers", "How many of the model's layers go to the GPU.",
                  -1, 10_000, special="All that fit"),
        FieldSpec("context_tokens", "Context", "", 256, 1_048_576, 256, " tokens"),
        FieldSpec("speculative_decoding", "Speculative decoding",
                  "Guess the next tokens from the prompt and the answer so far and check them "
                  "in one pass: the same text, sooner, when answers repeat the prompt."),
        FieldSpec("draft_model_path", "Draft model",
                  "A small GGUF model of the same family makes the guesses instead (e.g. "
                  "SmolLM2-135M for a larger SmolLM2); empty: guesses come from the prompt."),
    )),
)


def choice_label(spec: FieldSpec, stored: str) -> str:
    return next((label for value, label in spec.choices if value == stored), stored)
