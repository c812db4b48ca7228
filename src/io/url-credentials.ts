/**
 * User-info in URLs (`https://alice:pw@host/path`): split off so it is sent as basic auth and
 * never as part of a URL that could be printed, and put back masked where the URL is shown.
 */

export interface UrlCredentials {
  /** The URL without user-info. */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
}

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The URL without its user-info, and the (percent-decoded) user name and password it carried. */
export function splitUrlCredentials(url: string): UrlCredentials {
  const m = AUTHORITY.exec(url);
  if (!m) return { url };
  // The host follows the last '@' of the authority: an unencoded '@' in a password stays in the password.
  const at = m[2].lastIndexOf('@');
  if (at < 0) return { url };
  const info = m[2].slice(0, at);
  const colon = info.indexOf(':');
  return {
    url: `${m[1]}${m[2].slice(at + 1)}${m[3]}`,
    username: decode(colon < 0 ? info : info.slice(0, colon)),
    ...(colon < 0 ? {} : { password: decode(info.slice(colon + 1)) }),
  };
}

/** `https://host/x` with user `alice` → `https://alice:***@host/x`: who authenticates, never the password. */
export function shownUrl(url: string, username: string | undefined): string {
  if (username === undefined) return url;
  const m = AUTHORITY.exec(url);
  return m ? `${m[1]}${encodeURIComponent(username)}:***@${m[2]}${m[3]}` : url;
}
