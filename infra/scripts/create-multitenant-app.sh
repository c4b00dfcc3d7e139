#!/usr/bin/env bash
# Creates the factory's multi-tenant app registration whose only credential is a federated identity
# credential trusting the factory's managed identity (no secret to rotate). Bicep cannot create app
# registrations without the Microsoft Graph extension, so this step is a script.
# Usage: infra/scripts/create-multitenant-app.sh <factory-managed-identity-principal-id> [display-name]
set -euo pipefail
mi_principal_id=${1:?factory managed identity principal (object) id}
name=${2:-image-factory}
tenant_id=$(az account show --query tenantId -o tsv)
app_id=$(az ad app create --display-name "$name" --sign-in-audience AzureADMultipleOrgs --query appId -o tsv)
eng_sp_id=$(az ad sp create --id "$app_id" --query id -o tsv)
az ad app federated-credential create --id "$app_id" --parameters "{
  \"name\": \"factory-managed-identity\",
  \"issuer\": \"https://login.microsoftonline.com/${tenant_id}/v2.0\",
  \"subject\": \"${mi_principal_id}\",
  \"audiences\": [\"api://AzureADTokenExchange\"]
}" >/dev/null
echo "FACTORY_APP_CLIENT_ID=${app_id}"
# Its service principal here (ENG) signs the auxiliary token of ENG → TEST copies; infra grants it
# Reader on the ENG gallery (infra/access.json) once azd knows it.
echo "FACTORY_APP_ENG_PRINCIPAL_ID=${eng_sp_id}"
echo "Admin consent in each TEST/PROD tenant (run as a Global/Privileged Role Administrator there):"
echo "  https://login.microsoftonline.com/<tenant-id>/adminconsent?client_id=${app_id}"
