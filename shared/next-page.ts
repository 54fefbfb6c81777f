/**
 * The paged list's link to its next page (GET /devices, functions/api.ts): an RFC 8288 `Link`
 * header with rel="next". Written by the API, read by the CLI (local/cli/client.ts) and the
 * console (console/api.ts).
 */
export const nextPageLink = (path: string): string => `<${path}>; rel="next"`;

/** The next page's path in a `Link` header, if it names one. */
export function nextPageOf(link: string | null | undefined): string | undefined {
  return /<([^>]+)>\s*;\s*rel="next"/.exec(link ?? '')?.[1];
}
