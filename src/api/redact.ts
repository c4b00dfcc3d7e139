/**
 * Last line of defence for API answers: no setting that holds a secret, no token, key or SAS ever
 * leaves the API, even when a pipeline definition pulls a secret in through a ${NAME} placeholder
 * or a failure message quotes one. Applied to every answer (src/functions/http-api.ts).
 */
import { scrubSecrets } from '../adapters/errors';

/** Settings whose values are secrets by their name. */
const SECRET_NAME =
  /(SECRET|PASSWORD|PASSWD|TOKEN|KEY|SAS|SIGNATURE|CONNECTION|PEM|CERT|PRIVATE|IDENTITY_HEADER|AzureWebJobsStorage)/i;
/** …except these, which only name or locate something. */
const NOT_SECRET =
  /(__fullyQualifiedNamespace|__clientId|__credential|__serviceUri|__accountName|_FILE|_SETTING|_NAME|_ID|_SCOPE|_ENDPOINT|_URL|_URI|_HOST|_QUEUE)$/i;
const MIN_LENGTH = 8;

const CONNECTION_PARTS: [RegExp, string][] = [
  [/\b(SharedAccessKey|AccountKey|SharedAccessSignature|AccessKey)=([^;"'\s]+)/gi, '$1=[redacted]'],
];

/** The secret values among the settings: secret-named settings and those AZURE_CREDENTIALS points at. */
export function secretValues(env: Record<string, string | undefined>): string[] {
  const names = new Set(Object.keys(env).filter((name) => SECRET_NAME.test(name) && !NOT_SECRET.test(name)));
  try {
    const profiles = JSON.parse(env.AZURE_CREDENTIALS ?? '{}') as Record<string, Record<string, unknown>>;
    for (const profile of Object.values(profiles ?? {})) {
      for (const field of ['secretSetting', 'certificateSetting'])
        if (typeof profile?.[field] === 'string') names.add(profile[field]);
    }
  } catch {
    // An unreadable AZURE_CREDENTIALS is reported by the config check, not here.
  }
  const values = new Set<string>();
  for (const name of names) {
    const value = env[name]?.trim();
    if (value === undefined || value.length < MIN_LENGTH) continue;
    values.add(value);
    // A PEM or multi-line value may be quoted line by line.
    for (const line of value.split(/\r?\n/))
      if (line.trim().length >= 16 && !/^-----/.test(line.trim())) values.add(line.trim());
  }
  // Longest first, so a value that contains another is replaced whole.
  return [...values].sort((a, b) => b.length - a.length);
}

export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  for (const [pattern, replacement] of CONNECTION_PARTS) out = out.replace(pattern, replacement);
  return scrubSecrets(out);
}

/** Every string in a JSON value (keys included), redacted. */
export function redactJson<T>(value: T, secrets: readonly string[]): T {
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return redactText(node, secrets);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object')
      return Object.fromEntries(
        Object.entries(node as Record<string, unknown>).map(([key, item]) => [
          redactText(key, secrets),
          walk(item),
        ]),
      );
    return node;
  };
  return walk(value) as T;
}
