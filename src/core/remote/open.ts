import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import type { Backend, RemoteConfig } from './backend.js';

/** The backend a remote URL names; each is loaded only when used. */
export async function openBackend(config: RemoteConfig): Promise<Backend> {
  const { url } = config;
  if (url.startsWith('file://')) {
    const { FileBackend } = await import('./file.js');
    return new FileBackend(url, fileURLToPath(url));
  }
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (s3) {
    // Loaded only for an s3:// remote: the SDK costs ~100 ms to import. Its notice that releases after
    // January 2027 need Node 22 would print on every command; package-lock.json pins a release that runs on 20.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const { S3Backend } = await import('./s3.js');
    return new S3Backend(url, s3[1]!, s3[2]!.replace(/\/+$/, ''), config);
  }
  throw new ConfigError(`remote '${url}': expected s3://bucket/prefix or file:///absolute/path`);
}
