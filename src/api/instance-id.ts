/**
 * Instance ids as the Durable extension checks them in StartNewAsync
 * (Azure/azure-functions-durable-extension, ContextImplementations/DurableClient.cs): not starting
 * with '@' (entity scheduler ids), none of / \ # ? and no control character (.NET
 * char.IsControl: U+0000–U+001F, U+007F–U+009F), at most 256 characters.
 * The API's own ids are a stricter subset (`API_ID_PATTERN`); both are checked so an id a request
 * brings can never reach the durable client or a log line in a shape the extension would refuse.
 */
export const MAX_INSTANCE_ID_LENGTH = 256;

const INVALID_CHARACTER = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

/** The extension's ArgumentException message for an id it refuses, or undefined when it is valid. */
export function durableInstanceIdProblem(id: string): string | undefined {
  if (id.startsWith('@')) return 'Orchestration instance ids must not start with @.';
  if (INVALID_CHARACTER.test(id))
    return 'Orchestration instance ids must not contain /, \\, #, ?, or control characters.';
  if (id.length > MAX_INSTANCE_ID_LENGTH)
    return `Instance ID lengths must not exceed ${MAX_INSTANCE_ID_LENGTH} characters.`;
  return undefined;
}

/** Build and revoke ids this API creates and accepts: letters, digits, . _ : - ; no '..'. */
export const API_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

export const isApiInstanceId = (id: string): boolean =>
  API_ID_PATTERN.test(id) && !id.includes('..') && durableInstanceIdProblem(id) === undefined;
