/**
 * Secrets scan of a factory run: every credential the test knows of (client secret, certificate
 * private key, managed identity header, Service Bus SAS key, approval signing key, the front end's
 * function/master/system keys, and every token, client assertion and SAS the simulated Azure handed
 * out or received) is looked for in every string the factory produced: host log lines, every
 * instance's input, output, custom status and history (all generations, sub-orchestrations
 * included), HTTP API answers and messages it sent. Values are also looked for in the forms they
 * take when quoted in JSON (once and twice, as history inputs are JSON inside JSON) or in a URL,
 * and tokens by their signature alone and its first characters, so a truncated token is caught too.
 * `selfCheck()` plants each secret in a copy of what was collected: a scan that cannot fail proves
 * nothing.
 */
import { inspect } from 'node:util';
import type { Factory } from './harness';

export interface SecretFinding {
  secret: string;
  source: string;
  /** The text around the hit, with the hit itself masked (a failing test must not print it). */
  context: string;
}

/** Shapes of credentials nobody told the test about (a token from elsewhere, a key in a message). */
const CREDENTIAL_SHAPES: [string, RegExp][] = [
  ['a JWT', /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/],
  ['a SAS signature', /[?&]sig=[A-Za-z0-9%+/=]{10,}/],
  ['a connection-string key', /(SharedAccessKey|AccountKey)=(?!\[redacted\])[^;"'\s\\]{8,}/],
  ['a PEM private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
];
/** Shorter needles would find harmless coincidences; every real secret here is much longer. */
const MIN_NEEDLE = 12;
/** Enough of a token's signature to identify it (144 bits) and to catch one cut short. */
const SIGNATURE_PREFIX = 24;

export class SecretsScan {
  /** needle → name of the secret it reveals */
  private readonly needles = new Map<string, string>();
  private readonly planted = new Map<string, string>(); // name → one value to plant in the self-check
  private readonly texts: { source: string; text: string }[] = [];

  /** A secret value, found as is, JSON-quoted (once, twice), URL-encoded, or line by line (PEM). */
  addSecret(name: string, value: string | undefined): void {
    if (value === undefined || value.trim().length < MIN_NEEDLE) return;
    this.planted.set(name, value);
    const forms = new Set<string>();
    const lines = value.split(/\r?\n/).map((line) => line.trim());
    for (const form of [value.trim(), ...lines.filter((line) => !line.startsWith('-----'))]) {
      if (form.length < MIN_NEEDLE) continue;
      const quoted = JSON.stringify(form).slice(1, -1);
      forms.add(form).add(quoted).add(JSON.stringify(quoted).slice(1, -1)).add(encodeURIComponent(form));
    }
    for (const form of forms) if (!this.needles.has(form)) this.needles.set(form, name);
  }

  /** A JWT: found whole, by its signature, or by the signature's first characters (cut short). */
  addToken(name: string, token: string): void {
    const signature = token.split('.')[2];
    if (signature === undefined || signature.length < SIGNATURE_PREFIX)
      throw new Error(`${name} is not a signed JWT`);
    this.planted.set(name, token);
    this.needles.set(token, name);
    this.needles.set(signature, `${name} (signature)`);
    this.needles.set(signature.slice(0, SIGNATURE_PREFIX), `${name} (signature, cut short)`);
  }

  /** Everything a factory started by the harness holds or was handed: settings, world, simulator. */
  addFactorySecrets(factory: Factory): void {
    const { world, env } = factory;
    this.addSecret('client secret', world.factoryApp.clientSecret);
    this.addSecret('certificate private key', world.factoryApp.privateKeyPem);
    this.addSecret('managed identity header', env.IDENTITY_HEADER);
    const connection = env.ServiceBusConnection;
    if (connection !== undefined) {
      this.addSecret('Service Bus connection string', connection);
      this.addSecret('Service Bus SAS key', /SharedAccessKey=([^;]+)/.exec(connection)?.[1]);
    }
    // The current key and, during a rotation, the previous one.
    for (const [name, value] of [
      ['approval signing key', env.APPROVAL_SIGNING_KEY],
      ['previous approval signing key', env.APPROVAL_SIGNING_KEY_PREVIOUS],
    ] as const) {
      if (value === undefined) continue;
      this.addSecret(name, value);
      this.addSecret(`${name} (base64)`, value.replace(/^base64:/, ''));
    }
    this.addIssuedCredentials(factory);
  }

  /** Tokens and assertions are issued all along: call again after the run to add the late ones. */
  addIssuedCredentials(factory: Factory): void {
    factory.sim.issuedCredentials().forEach((credential, index) => {
      // A managed identity token is also the workload identity's assertion: one secret, one name.
      if (this.needles.has(credential.value)) return;
      const name = `${credential.kind} #${index}`;
      if (credential.kind === 'sasSignature') this.addSecret(name, credential.value);
      else this.addToken(name, credential.value);
    });
  }

  /** Keeps the generations continueAsNew discards; call right after the factory started. */
  watchHistories(factory: Factory): void {
    factory.host.engine.onHistoryRetired((instanceId, history) =>
      this.record(`history of ${instanceId} (earlier generation)`, history),
    );
  }

  /**
   * Records what the app writes to the console (activities log there, not to the host log), still
   * passing it on; returns the function that restores the console.
   */
  captureConsole(): () => void {
    const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const originals = methods.map((method) => [method, console[method]] as const);
    for (const [method, original] of originals)
      console[method] = (...args: unknown[]) => {
        this.record(
          `console.${method}`,
          args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg))).join(' '),
        );
        original.apply(console, args);
      };
    return () => {
      for (const [method, original] of originals) console[method] = original;
    };
  }

  record(source: string, content: unknown): void {
    this.texts.push({ source, text: typeof content === 'string' ? content : JSON.stringify(content) });
  }

  /** Log lines and every instance's input, output, custom status and history, as they are now. */
  async collectFactory(factory: Factory): Promise<void> {
    this.record('host log', factory.log.join('\n'));
    for (const id of factory.host.engine.instanceIds())
      this.record(`instance ${id}`, await factory.host.getStatus(id, { showHistory: true }));
  }

  /** fetch, with the answer (status line, headers, body) recorded for the scan. */
  async fetch(url: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
    const response = await fetch(url, init);
    const text = await response.text();
    const path = new URL(url).pathname;
    this.record(`${init.method ?? 'GET'} ${path} → ${response.status}`, {
      headers: Object.fromEntries(response.headers.entries()),
      text,
    });
    return { status: response.status, text };
  }

  get collectedCharacters(): number {
    return this.texts.reduce((sum, { text }) => sum + text.length, 0);
  }

  get sources(): string[] {
    return this.texts.map(({ source }) => source);
  }

  get secretNames(): string[] {
    return [...this.planted.keys()];
  }

  findings(texts: readonly { source: string; text: string }[] = this.texts): SecretFinding[] {
    const found: SecretFinding[] = [];
    const hit = (secret: string, source: string, text: string, at: number, length: number) =>
      found.push({
        secret,
        source,
        context: `${text.slice(Math.max(0, at - 60), at)}[${secret}]${text.slice(at + length, at + length + 60)}`,
      });
    for (const { source, text } of texts) {
      const seen = new Set<string>();
      for (const [needle, secret] of this.needles) {
        const at = text.indexOf(needle);
        // One finding per secret and text: the whole token and its signature are the same leak.
        const key = secret.replace(/ \(signature.*\)$/, '');
        if (at >= 0 && !seen.has(key)) {
          seen.add(key);
          hit(secret, source, text, at, needle.length);
        }
      }
      for (const [shape, pattern] of CREDENTIAL_SHAPES) {
        const match = pattern.exec(text);
        if (match && seen.size === 0) hit(shape, source, text, match.index, match[0].length);
      }
    }
    return found;
  }

  /**
   * Plants every known secret, and every token cut short and JSON-quoted inside a sentence, in a
   * copy of a collected text; returns the names the scan missed (must be none).
   */
  selfCheck(): string[] {
    const host = this.texts.reduce<{ source: string; text: string } | undefined>(
      (longest, entry) => (longest && longest.text.length >= entry.text.length ? longest : entry),
      undefined,
    );
    if (!host) return ['(nothing collected)'];
    // A window of the text keeps the check quick after a long run; the secret lands mid-text.
    const middle = Math.floor(host.text.length / 2);
    const before = host.text.slice(Math.max(0, middle - 50_000), middle);
    const after = host.text.slice(middle, middle + 50_000);
    const plantedIn = (value: string) => ({
      source: `${host.source} (planted)`,
      text: `${before}${value}${after}`,
    });
    const missed: string[] = [];
    for (const [name, value] of this.planted) {
      const variants = [value];
      if (value.split('.').length === 3 && !value.includes(' '))
        // A token cut short in a JSON-quoted error message (e.g. a 400-character excerpt).
        variants.push(JSON.stringify(JSON.stringify({ message: `Bearer ${value.slice(0, -40)}…` })));
      for (const variant of variants)
        if (
          !this.findings([plantedIn(variant)]).some(
            (finding) => finding.secret === name || finding.secret.startsWith(`${name} (`),
          )
        )
          missed.push(variant === value ? name : `${name} (cut short, quoted)`);
    }
    return missed;
  }
}
