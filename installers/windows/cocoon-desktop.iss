; Inno Setup 6 script for Cocoon Desktop (Windows x64). Built by installers\build-windows.ps1,
; which passes the version and the folders:
;   iscc /DAppVersion=0.1.0 /DBundleDir=...\build\ship\dist\cocoon-desktop
;        /DIconFile=...\build\ship\icons\cocoon-desktop.ico /DOutputDir=...\dist cocoon-desktop.iss
; Installs per user by default (no administrator rights; the dialog offers "for all users").
; Uninstalling keeps the user's data (%APPDATA%\cocoon-desktop: settings, the earnings ledger) and
; the wallet's secrets in Windows Credential Manager: they are the user's, not the program's.

#ifndef AppVersion
  #error Pass /DAppVersion=<version> (installers\build-windows.ps1 does)
#endif
#ifndef BundleDir
  #error Pass /DBundleDir=<PyInstaller output folder> (installers\build-windows.ps1 does)
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif

[Setup]
; The AppId identifies the app for upgrades and uninstalling: never change it.
AppId={{5E0C2C8B-6A43-4E59-9C9E-2B5E4C3A7D11}
AppName=Cocoon Desktop
AppVersion={#AppVersion}
AppVerName=Cocoon Desktop {#AppVersion}
AppPublisher=Cocoon Desktop contributors
DefaultDirName={autopf}\Cocoon Desktop
DefaultGroupName=Cocoon Desktop
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=cocoon-desktop-{#AppVersion}-windows-x64-setup
#ifdef IconFile
SetupIconFile={#IconFile}
#endif
UninstallDisplayIcon={app}\cocoon-desktop.exe
UninstallDisplayName=Cocoon Desktop
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; The app may be running (tray): ask to close it rather than replace files in use.
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade replaces the whole bundle: no stale libraries from the previous version.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\Cocoon Desktop"; Filename: "{app}\cocoon-desktop.exe"; Comment: "Serve AI inference on the Cocoon network"
Name: "{autodesktop}\Cocoon Desktop"; Filename: "{app}\cocoon-desktop.exe"; Tasks: desktopicon

[Registry]
; "Start at login" (set from the app, off by default) lives in this value: remove it with the app.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: none; ValueName: "Cocoon Desktop"; Flags: uninsdeletevalue dontcreatekey

[Run]
; A quick check of the fresh installation, then the app itself.
Filename: "{app}\cocoon-desktop-cli.exe"; Parameters: "--self-test --only gui --only model"; StatusMsg: "Checking the installation..."; Flags: runhidden waituntilterminated
Filename: "{app}\cocoon-desktop.exe"; Description: "{cm:LaunchProgram,Cocoon Desktop}"; Flags: nowait postinstall skipifsilent
