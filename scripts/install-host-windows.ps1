<#
.SYNOPSIS
  Registers (or, with -Uninstall, removes) smart-card-host as the native messaging host of the Smart Card Connector
  for Chrome and Chromium on Windows.

.DESCRIPTION
  On Windows Chrome finds a native messaging host through the registry, not a directory: the default value of
  HKCU\Software\Google\Chrome\NativeMessagingHosts\org.smart_card_connector.host (Chromium:
  HKCU\Software\Chromium\NativeMessagingHosts\...; -Machine: HKLM instead of HKCU) names the host manifest. This
  script writes, in %LOCALAPPDATA%\smart-card-host (-Machine: %ProgramData%\smart-card-host):
    - org.smart_card_connector.host.cmd, a launcher running this Node and dist\host\cli.js with --native-messaging and
      the options given after -HostArgs (Chrome passes the host no options of ours);
    - org.smart_card_connector.host.json, the manifest: name, description, path (the launcher), type "stdio",
      allowed_origins (the connector's id, derived from manifest.json's key by scripts\extension-id.mjs);
  and sets the registry keys. Run `npm run build:host` first. It has not been run by the project's tests (they run
  on Linux): please report what fails.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File scripts\install-host-windows.ps1 -HostArgs '--backend','own','--demo'

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File scripts\install-host-windows.ps1 -Uninstall
#>
param(
  [switch]$Uninstall,
  # All users (HKLM, %ProgramData%): needs an elevated prompt.
  [switch]$Machine,
  [ValidateSet('all', 'chrome', 'chromium')][string]$Browser = 'all',
  # Options for the host, e.g. '--backend','own','--demo' (see smart-card-host --help).
  [string[]]$HostArgs = @()
)
$ErrorActionPreference = 'Stop'

$Name = 'org.smart_card_connector.host'
$Root = Split-Path -Parent $PSScriptRoot
$Cli = Join-Path $Root 'dist\host\cli.js'
$Hive = if ($Machine) { 'HKLM:' } else { 'HKCU:' }
$Dir = if ($Machine) { Join-Path $env:ProgramData 'smart-card-host' } else { Join-Path $env:LOCALAPPDATA 'smart-card-host' }
$Manifest = Join-Path $Dir "$Name.json"
$Launcher = Join-Path $Dir "$Name.cmd"
$Keys = @()
if ($Browser -in 'all', 'chrome') { $Keys += "$Hive\Software\Google\Chrome\NativeMessagingHosts\$Name" }
if ($Browser -in 'all', 'chromium') { $Keys += "$Hive\Software\Chromium\NativeMessagingHosts\$Name" }

if ($Uninstall) {
  foreach ($k in $Keys) {
    if (Test-Path $k) { Remove-Item -Path $k -Force; Write-Output "removed $k" } else { Write-Output "not installed: $k" }
  }
  foreach ($f in $Manifest, $Launcher) {
    if (Test-Path $f) { Remove-Item -Path $f -Force; Write-Output "removed $f" }
  }
  exit 0
}

$Node = (Get-Command node -ErrorAction SilentlyContinue).Source
if (-not $Node) { Write-Error 'node is not on PATH: install Node.js 20 or later'; exit 1 }
if (-not (Test-Path $Cli)) { Write-Error "$Cli is missing: run npm run build:host first"; exit 1 }

# The id, derived from manifest.json's key the way Chrome derives it (one derivation for every script and the host).
$IdScript = "import('./scripts/extension-id.mjs').then(m => console.log(m.extensionIdFromKey(require('./manifest.json').key)))"
Push-Location $Root
try { $Id = (& $Node -e $IdScript).Trim() } finally { Pop-Location }
if ($Id -notmatch '^[a-p]{32}$') { Write-Error "could not derive the connector's id (got '$Id')"; exit 1 }

New-Item -ItemType Directory -Force -Path $Dir | Out-Null
$Quoted = ($HostArgs | ForEach-Object { '"' + $_ + '"' }) -join ' '
# %* passes Chrome's arguments on: the caller's origin, --parent-window=N.
Set-Content -Path $Launcher -Encoding ASCII -Value "@echo off`r`nif not defined UV_THREADPOOL_SIZE set UV_THREADPOOL_SIZE=16`r`n`"$Node`" `"$Cli`" --native-messaging $Quoted %*`r`n"
$Json = [ordered]@{
  name = $Name
  description = 'Smart Card Connector host: PC/SC readers for the connector extension'
  path = $Launcher
  type = 'stdio'
  allowed_origins = @("chrome-extension://$Id/")
} | ConvertTo-Json
# UTF-8 without a byte order mark (Windows PowerShell's -Encoding UTF8 would write one).
[IO.File]::WriteAllText($Manifest, $Json)
Write-Output "wrote $Manifest"
Write-Output "wrote $Launcher"
foreach ($k in $Keys) {
  New-Item -Path $k -Force | Out-Null
  Set-ItemProperty -Path $k -Name '(Default)' -Value $Manifest
  Write-Output "set $k = $Manifest"
}
