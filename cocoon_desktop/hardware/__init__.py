"""GPU and host health: monitoring (NVML, psutil), history, protection, energy, the doctor.

    nvml.py          the one NVML query helper (lazy start, clear states, n/a per metric)
    monitor.py       GpuMonitor: NvmlGpuMonitor, NullGpuMonitor (says why), open_gpu_monitor()
    system.py        psutil: host, the engine's process tree, the game-list watch
    service.py       HealthService: the 1 Hz loop feeding history, protection and energy
    history.py       MetricHistory: 2 h at 1 s, 48 h at 1 min, 30 days at 1 h, per metric
    protection.py    ProtectionPolicy: a pure state machine over ticks and GPU events
    serving.py       ServingControl (what the app implements) and ProtectionController
    xid.py           GPU error events on a background thread, Xid classification
    energy.py        EnergyMeter (joules per request) and Tariff (cost per kWh)
    doctor.py        `cocoon-desktop-cli doctor` and run_doctor(); probes, checks, verdict, bundle
    report.py        `python -m cocoon_desktop.hardware.gpu.report`: the monitor's view of the GPU
"""
