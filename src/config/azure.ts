import { z } from 'zod';

/**
 * One credential profile (e.g. "eng", "test", "prod", "build"). Secrets are never inside this map:
 * `secretSetting` / `certificateSetting` name the setting that holds them.
 */
export const credentialProfileSchema = z
  .object({
    tenantId: z.string().min(1, 'tenantId is required'),
    kind: z.enum(['managedIdentity', 'workloadIdentity', 'clientCertificate', 'clientSecret']),
    /** Application (client) id; for kind managedIdentity the identity's client id. */
    clientId: z.string().min(1, 'clientId is required'),
    /** Object id of the service principal / managed identity (named in preflight messages). */
    principalId: z.string().min(1, 'principalId is required'),
    displayName: z.string().min(1, 'displayName is required'),
    /** managedIdentity: client id of a user-assigned identity; workloadIdentity: the identity whose token is the assertion. */
    managedIdentityClientId: z.string().min(1).optional(),
    /** clientSecret: NAME of the setting that holds the client secret. */
    secretSetting: z
      .string()
      .regex(
        /^[A-Za-z_][A-Za-z0-9_]*$/,
        'must be the NAME of a setting (letters, digits, _), not the secret itself',
      )
      .optional(),
    /** clientCertificate: name of the setting holding a PEM (or a file path), or a PEM file path. */
    certificateSetting: z.string().min(1).optional(),
  })
  .strict()
  .superRefine(
    (profile, ctx) => {
      if (profile.kind === 'clientSecret' && profile.secretSetting === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['secretSetting'],
          message: 'required for kind clientSecret (name of the setting holding the secret)',
        });
      }
      if (profile.kind === 'clientCertificate' && profile.certificateSetting === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['certificateSetting'],
          message:
            'required for kind clientCertificate (name of the setting holding the PEM, or a PEM file path)',
        });
      }
      if (profile.kind !== 'clientSecret' && profile.secretSetting !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['secretSetting'],
          message: `not used by kind ${profile.kind}`,
        });
      }
    },
    // Run even when other fields failed, so every problem is reported at once.
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

export type CredentialProfile = z.infer<typeof credentialProfileSchema>;

const credentialsMapSchema = z.record(
  z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'profile names are letters, digits, _ and -'),
  credentialProfileSchema,
);

const credentialsSetting = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // Never echo the value: a misplaced secret must not reach a log.
      ctx.addIssue({
        code: 'custom',
        message: 'is not valid JSON (expected {"<profile>": {"tenantId": …, "kind": …, …}})',
      });
      return z.NEVER;
    }
  })
  .pipe(credentialsMapSchema);

/** Settings the Azure adapters read (endpoints, credentials). Owned by src/adapters. */
export const azureSettingsSchema = z.object({
  ARM_ENDPOINT: z.url().default('https://management.azure.com'),
  AZURE_AUTHORITY_HOST: z.url().default('https://login.microsoftonline.com'),
  /** Token scope for ARM; stays the public-cloud audience unless you run in a sovereign cloud. */
  ARM_TOKEN_SCOPE: z.string().min(1).default('https://management.azure.com/.default'),
  /**
   * How often the SDK polls short ARM long-running operations (ms; the simulator answers at once),
   * and the pause of an activity's quick retries of a failed read (adapters, preflight).
   */
  ARM_POLL_INTERVAL_MS: z.coerce.number().int().min(1).max(60_000).default(2000),
  /** PEM file whose certificate(s) the Azure clients trust (local simulator only); never process-wide. */
  AZURE_CA_CERT_FILE: z.string().min(1).optional(),
  /** JSON map credentialName → CredentialProfile. */
  AZURE_CREDENTIALS: credentialsSetting.default({}),
});

export type AzureSettings = z.infer<typeof azureSettingsSchema>;
