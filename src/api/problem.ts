/** An application/problem+json answer (RFC 9457): type, title, status, detail and the offending fields. */
import type { ApiResponse } from './builds-api';

export function problem(
  status: number,
  title: string,
  detail: string,
  errors: { path: string; message: string }[] = [],
): ApiResponse {
  return {
    status,
    headers: { 'content-type': 'application/problem+json' },
    jsonBody: {
      type: `https://image-factory.example/problems/${title.toLowerCase().replace(/[^a-z]+/g, '-')}`,
      title,
      status,
      detail,
      errors,
    },
  };
}
