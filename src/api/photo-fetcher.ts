// The sync's FetchPhoto over the API's SSRF-safe fetcher: the central server's photos
// are fetched with the same guard as /identity's image_url, and its errors are sorted
// into "this photo can never work" (PhotoRejected) and "try the page again" (SyncError).
import { fetchRemoteImage } from './fetch-image.js';
import { ApiError } from './errors.js';
import { parseAllowList } from './address-policy.js';
import { SyncError } from '../sync/page.js';
import { PhotoRejected, type FetchPhoto } from '../sync/photo.js';

export interface PhotoFetchOptions {
  /** The central server's address: its host is trusted even on a LAN/loopback address. */
  baseUrl: URL;
  maxPhotoBytes: number;
  requestTimeoutMs: number;
}

// fetchRemoteImage speaks in ApiErrors for the /identity route; these are the
// ones that mean the photo itself is unusable. TODO(api): a `permanent` flag on
// its errors would replace this matching of its messages.
const PERMANENT = /answered HTTP 4\d\d|does not fetch from|never fetches from|redirected (more than|to an invalid|to a )/;

export function photoFetcher(o: PhotoFetchOptions): FetchPhoto {
  const port = o.baseUrl.port || (o.baseUrl.protocol === 'https:' ? '443' : '80');
  // URL.hostname keeps IPv6 brackets, which is the allow-list's [addr]:port form.
  const { entries } = parseAllowList([`${o.baseUrl.hostname}:${port}`]);
  return async (url, signal) => {
    if (signal?.aborted) throw new SyncError('sync was stopped before a photo arrived', false);
    try {
      return await fetchRemoteImage(url, { maxBytes: o.maxPhotoBytes, timeoutMs: o.requestTimeoutMs, maxRedirects: 3, allowList: entries });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // The central server's photos are the gate's own business: the specifics kept from API clients are wanted here.
      const detail = err.logDetail ?? err.detail;
      if (err.status === 413 || err.status === 415 || PERMANENT.test(detail)) throw new PhotoRejected(detail);
      throw new SyncError(`photo download failed: ${detail}`, true);
    }
  };
}
