# Windows twin of register-providers.sh: registers the resource providers of infra/providers.json
# in a subscription and waits until each is Registered (idempotent; needs <namespace>/register/action).
#   pwsh infra/scripts/register-providers.ps1 -Kind eng   [-Subscription <id>]   # azd preprovision hook
#   pwsh infra/scripts/register-providers.ps1 -Kind stage -Subscription <id>     # TEST/PROD onboarding
param(
  [ValidateSet('eng', 'stage')][string]$Kind = 'eng',
  [string]$Subscription = $env:AZURE_SUBSCRIPTION_ID
)
$ErrorActionPreference = 'Stop'
if (-not $Subscription) { $Subscription = az account show --query id -o tsv }
$list = (Get-Content -Raw (Join-Path $PSScriptRoot '..\providers.json') | ConvertFrom-Json).providers
foreach ($provider in $list | Where-Object { $_.$Kind -eq $true }) {
  Write-Host "registering $($provider.namespace) in subscription $Subscription"
  az provider register --namespace $provider.namespace --subscription $Subscription --wait
  if ($LASTEXITCODE -ne 0) { throw "az provider register --namespace $($provider.namespace) failed" }
}
Write-Host "resource providers registered in subscription $Subscription"
