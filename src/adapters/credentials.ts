/**
 * Credentials per profile (AZURE_CREDENTIALS) and the client options every Azure SDK client gets:
 * endpoint, token scope, per-client TLS trust (AZURE_CA_CERT_FILE, never process-wide) and, for
 * cross-tenant calls, the `x-ms-authorization-auxiliary` policy.
 */
import { readFileSync } from 'node:fs';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { auxiliaryAuthenticationHeaderPolicy, type PipelinePolicy } from '@azure/core-rest-pipeline';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type ClientCertificatePEMCertificate,
  type ClientCertificatePEMCertificatePath,
} from '@azure/identity';
import type { AzureSettings, CredentialProfile } from '../config/azure';
import { idempotentTransientRetryPolicy } from './transient-retry';
import type { CredentialName, PrincipalInfo } from '../ports/azure';
import { FactoryError } from '../shared/errors';
import { classifyAzureError, registerSecret } from './errors';

/** Audience of the managed identity token used as a federated client assertion. */
export const TOKEN_EXCHANGE_SCOPE = 'api://AzureADTokenExchange/.default';

const PUBLIC_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

export interface CredentialStoreOptions {
  /** Where secretSetting / certificateSetting and IDENTITY_ENDPOINT are looked up (default process.env). */
  env?: Record<string, string | undefined>;
  /** Base delay of the quick retries of idempotent calls (default 2000 ms, like the LRO polls). */
  transientRetryDelayMs?: number;
  /** How long one request to ARM or Blob storage may take (default ARM_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /** How long getting one token may take (default TOKEN_TIMEOUT_MS). */
  tokenTimeoutMs?: number;
}

/**
 * The SDKs set no timeout: a request whose connection died without closing (a network fault) would
 * hold its activity until host.json's functionTimeout (10 minutes), after which the host restarts the
 * Node worker, ending every invocation it runs (Azure/azure-functions-host#8720), and runs the
 * activity again. Two minutes is far beyond any answer ARM gives a read or a start (an operation
 * that takes longer runs asynchronously behind a 201/202); the call then fails as a retryable
 * ConnectionFault (AbortError), which the orchestration retries. Storage requests (customization.log)
 * take the same limit, body included (customizationLog.ts).
 */
export const ARM_REQUEST_TIMEOUT_MS = 120_000;

/** Options shared by every SDK client (classic and modular clients accept both spellings). */
export interface SdkClientOptions {
  endpoint: string;
  tlsOptions?: { ca: string };
  credentials: { scopes: string[] };
  credentialScopes: string[];
  additionalPolicies: { position: 'perCall' | 'perRetry'; policy: PipelinePolicy }[];
  retryOptions: { maxRetries: number };
}

function invalidConfig(message: string, hint: string): FactoryError {
  return new FactoryError('InvalidConfig', message, { hint });
}

/** A TokenCredential whose failures surface as classified FactoryErrors (never with a secret). */
class ClassifiedCredential implements TokenCredential {
  constructor(
    private readonly inner: TokenCredential,
    private readonly label: string,
    private readonly timeoutMs: number,
  ) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const token = this.inner.getToken(scopes, options);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`no token within ${this.timeoutMs / 1000} s`);
        error.name = 'TimeoutError';
        reject(error);
      }, this.timeoutMs);
    });
    // A token that comes (or fails) after the timeout is dropped, not an unhandled rejection.
    token.catch(() => undefined);
    try {
      return await Promise.race([token, timedOut]);
    } catch (error) {
      throw classifyAzureError(error, { operation: `get a token for credential ${this.label}` });
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * How long getting one token may take, the credential's own retries included. The token requests
 * (Entra's token endpoint, the managed-identity endpoint) have no timeout, and the ARM request
 * timeout does not cover them (the SDKs get the token before the request is sent), so a token
 * request whose connection died would hold its activity until functionTimeout, as an unanswered
 * ARM request did (ARM_REQUEST_TIMEOUT_MS). @azure/identity takes no per-request policy for a
 * managed identity (it replaces `additionalPolicies` with its own retry policy), hence a limit on the
 * whole call: it then fails as a retryable ConnectionFault (TimeoutError), and the request left
 * behind is abandoned (it holds its socket until the connection closes). A minute is far beyond a
 * token's answer and the SDK's own retries of a failing one (Entra's endpoint: three, backing off
 * from 1 s; a managed identity: five, from 0.8 s doubling, about 25 s of waiting in all).
 */
export const TOKEN_TIMEOUT_MS = 60_000;

export class CredentialStore {
  private readonly env: Record<string, string | undefined>;
  private readonly ca: string | undefined;
  private readonly cache = new Map<string, TokenCredential>();
  private readonly isPublicCloud: boolean;
  private readonly transientRetryDelayMs: number;
  /** How long one request to Azure may take (ARM here; Blob in customizationLog.ts). */
  readonly requestTimeoutMs: number;
  private readonly tokenTimeoutMs: number;

  constructor(
    private readonly settings: Pick<
      AzureSettings,
      'ARM_ENDPOINT' | 'AZURE_AUTHORITY_HOST' | 'ARM_TOKEN_SCOPE' | 'AZURE_CA_CERT_FILE' | 'AZURE_CREDENTIALS'
    >,
    options: CredentialStoreOptions = {},
  ) {
    this.env = options.env ?? process.env;
    this.transientRetryDelayMs = options.transientRetryDelayMs ?? 2000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? ARM_REQUEST_TIMEOUT_MS;
    this.tokenTimeoutMs = options.tokenTimeoutMs ?? TOKEN_TIMEOUT_MS;
    this.isPublicCloud = PUBLIC_AUTHORITY_HOSTS.has(
      new URL(settings.AZURE_AUTHORITY_HOST).hostname.toLowerCase(),
    );
    if (settings.AZURE_CA_CERT_FILE !== undefined) {
      try {
        this.ca = readFileSync(settings.AZURE_CA_CERT_FILE, 'utf8');
      } catch (error) {
        throw invalidConfig(
          `AZURE_CA_CERT_FILE: cannot read ${settings.AZURE_CA_CERT_FILE} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
          'Point AZURE_CA_CERT_FILE at a readable PEM file, or remove it (it is only needed for the local simulator).',
        );
      }
      if (!this.ca.includes('-----BEGIN CERTIFICATE-----')) {
        throw invalidConfig(
          `AZURE_CA_CERT_FILE: ${settings.AZURE_CA_CERT_FILE} holds no PEM certificate`,
          'The file must contain "-----BEGIN CERTIFICATE-----".',
        );
      }
    }
  }

  profile(name: CredentialName): CredentialProfile {
    const profile = this.settings.AZURE_CREDENTIALS[name];
    if (profile === undefined) {
      const known = Object.keys(this.settings.AZURE_CREDENTIALS);
      throw invalidConfig(
        `No credential profile "${name}" in AZURE_CREDENTIALS (defined: ${known.length === 0 ? 'none' : known.join(', ')})`,
        `Add "${name}": {"tenantId", "kind", "clientId", "principalId", "displayName", …} to AZURE_CREDENTIALS.`,
      );
    }
    return profile;
  }

  principal(name: CredentialName): PrincipalInfo {
    const profile = this.profile(name);
    return {
      credential: name,
      tenantId: profile.tenantId,
      principalId: profile.principalId,
      displayName: profile.displayName,
    };
  }

  /**
   * The credential of a profile; with `tenantId`, the same (multi-tenant) app signing in to another
   * tenant, as used for auxiliary tokens. Cached per profile and tenant.
   */
  credential(name: CredentialName, tenantId?: string): TokenCredential {
    const profile = this.profile(name);
    const tenant = tenantId ?? profile.tenantId;
    const key = `${name}\u0000${tenant}`;
    let credential = this.cache.get(key);
    if (credential === undefined) {
      credential = new ClassifiedCredential(
        this.build(name, profile, tenant),
        tenant === profile.tenantId ? `"${name}"` : `"${name}" in tenant ${tenant}`,
        this.tokenTimeoutMs,
      );
      this.cache.set(key, credential);
    }
    return credential;
  }

  /** Options for an SDK client acting as `name`, with auxiliary tokens for the given tenants. */
  clientOptions(name: CredentialName, auxiliaryTenantIds: string[] = []): SdkClientOptions {
    const profile = this.profile(name);
    const scopes = [this.settings.ARM_TOKEN_SCOPE];
    const requestTimeoutMs = this.requestTimeoutMs;
    const additionalPolicies: SdkClientOptions['additionalPolicies'] = [
      {
        position: 'perRetry',
        policy: {
          name: 'imageFactoryArmRequestTimeout',
          sendRequest(request, next) {
            if (!(request.timeout > 0)) request.timeout = requestTimeoutMs;
            return next(request);
          },
        },
      },
      {
        position: 'perCall',
        // Paced like the long-running operation polls: a retried read is just an early poll.
        policy: idempotentTransientRetryPolicy({
          maxRetries: 2,
          retryDelayInMs: this.transientRetryDelayMs,
          maxRetryDelayInMs: 4 * this.transientRetryDelayMs,
        }),
      },
    ];
    const auxTenants = [...new Set(auxiliaryTenantIds)].filter((tenant) => tenant !== profile.tenantId);
    if (auxTenants.length > 3) {
      throw new FactoryError(
        'CrossTenantTokenMissing',
        `ARM accepts at most 3 auxiliary tenants; ${auxTenants.length} were asked for`,
        {
          hint: 'Promote through at most 3 source tenants per call.',
        },
      );
    }
    if (auxTenants.length > 0) {
      if (profile.kind === 'managedIdentity') {
        throw new FactoryError(
          'CrossTenantTokenMissing',
          `Credential "${name}" is a managed identity, which cannot get tokens for tenant(s) ${auxTenants.join(', ')}`,
          {
            hint: `Use a multi-tenant app registration (kind workloadIdentity, clientCertificate or clientSecret) for "${name}" and consent to it in ${auxTenants.join(', ')}.`,
          },
        );
      }
      additionalPolicies.push({
        position: 'perCall',
        policy: auxiliaryAuthenticationHeaderPolicy({
          scopes,
          credentials: auxTenants.map((tenant) => this.credential(name, tenant)),
        }),
      });
    }
    return {
      endpoint: this.settings.ARM_ENDPOINT.replace(/\/+$/, ''),
      ...(this.ca === undefined ? {} : { tlsOptions: { ca: this.ca } }),
      credentials: { scopes },
      credentialScopes: scopes,
      additionalPolicies,
      // The SDK's own retries are off: idempotent calls get the quick ones above, everything else
      // is retried by the orchestration (it sees retryable and retryAfterMs).
      retryOptions: { maxRetries: 0 },
    };
  }

  /** Data-plane (storage) clients: same TLS trust. */
  tlsOptions(): { ca: string } | undefined {
    return this.ca === undefined ? undefined : { ca: this.ca };
  }

  private identityOptions(): {
    authorityHost: string;
    disableInstanceDiscovery: boolean;
    tlsOptions?: { ca: string };
  } {
    return {
      authorityHost: this.settings.AZURE_AUTHORITY_HOST.replace(/\/+$/, ''),
      disableInstanceDiscovery: !this.isPublicCloud,
      ...(this.ca === undefined ? {} : { tlsOptions: { ca: this.ca } }),
    };
  }

  private managedIdentity(name: string, clientId: string | undefined): TokenCredential {
    // @azure/identity reads the endpoint from the process environment, whatever `env` says.
    if (
      process.env.IDENTITY_ENDPOINT === undefined &&
      process.env.MSI_ENDPOINT === undefined &&
      !this.isPublicCloud
    ) {
      // Without an endpoint the SDK falls back to IMDS (169.254.169.254), which a local run cannot reach.
      throw invalidConfig(
        `Credential "${name}" uses a managed identity but neither IDENTITY_ENDPOINT nor MSI_ENDPOINT is set`,
        'Set IDENTITY_ENDPOINT and IDENTITY_HEADER (the Functions host does this in Azure; settingsForWorld does it locally).',
      );
    }
    return clientId === undefined
      ? new ManagedIdentityCredential()
      : new ManagedIdentityCredential({ clientId });
  }

  private build(name: string, profile: CredentialProfile, tenantId: string): TokenCredential {
    const options = this.identityOptions();
    switch (profile.kind) {
      case 'managedIdentity':
        return this.managedIdentity(name, profile.managedIdentityClientId ?? profile.clientId);
      case 'workloadIdentity': {
        const identity = this.managedIdentity(name, profile.managedIdentityClientId);
        return new ClientAssertionCredential(
          tenantId,
          profile.clientId,
          async () => {
            const token = await identity.getToken(TOKEN_EXCHANGE_SCOPE);
            if (token === null)
              throw new Error(`managed identity returned no token for ${TOKEN_EXCHANGE_SCOPE}`);
            return token.token;
          },
          options,
        );
      }
      case 'clientSecret': {
        const settingName = profile.secretSetting ?? '';
        const secret = this.env[settingName];
        if (secret === undefined || secret === '') {
          throw invalidConfig(
            `Credential "${name}" names secret setting ${settingName}, which is not set`,
            `Set the app setting ${settingName} (ideally a Key Vault reference) to the client secret of app ${profile.clientId}.`,
          );
        }
        registerSecret(secret);
        return new ClientSecretCredential(tenantId, profile.clientId, secret, options);
      }
      case 'clientCertificate': {
        const certificate = this.certificate(name, profile.certificateSetting ?? '');
        return 'certificate' in certificate
          ? new ClientCertificateCredential(tenantId, profile.clientId, certificate, options)
          : new ClientCertificateCredential(tenantId, profile.clientId, certificate, options);
      }
    }
  }

  private certificate(
    name: string,
    setting: string,
  ): ClientCertificatePEMCertificate | ClientCertificatePEMCertificatePath {
    const value = this.env[setting];
    const candidate = value !== undefined && value !== '' ? value : setting;
    if (candidate.includes('-----BEGIN')) {
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(candidate)) {
        throw invalidConfig(
          `Credential "${name}": the PEM in setting ${setting} has no private key`,
          'The PEM must hold the certificate and its private key.',
        );
      }
      registerSecret(candidate);
      return { certificate: candidate };
    }
    try {
      readFileSync(candidate);
    } catch {
      throw invalidConfig(
        `Credential "${name}": certificateSetting "${setting}" is neither a setting holding a PEM nor a readable PEM file`,
        `Set the app setting ${setting} to the PEM (certificate + private key), or point certificateSetting at a PEM file.`,
      );
    }
    return { certificatePath: candidate };
  }
}
