import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type * as S3 from '@aws-sdk/client-s3';
import type * as Storage from '@aws-sdk/lib-storage';
import type { Backend, Body, PutOptions, RemoteConfig } from './backend.js';

// require, not import: Node's ESM loader would first scan the SDK's CommonJS bundles for their
// export names, ~35 ms of every push's and pull's start-up.
const require = createRequire(import.meta.url);
const { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } = require('@aws-sdk/client-s3') as typeof S3;
const { Upload } = require('@aws-sdk/lib-storage') as typeof Storage;

/**
 * Objects this large go up in parts, several at once. Below it one PUT is
 * faster (measured on Ceph RGW: four 32 MiB objects 0.5–0.8 s as single PUTs,
 * 0.9–1.1 s in 8 or 16 MiB parts); rclone's cutoff is 200 MiB for the same reason.
 */
const MULTIPART_BYTES = 128 * 1024 * 1024;
const PART_BYTES = 32 * 1024 * 1024;

const status = (e: unknown) => (e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined);

/** The SDK's error as a user reads it: S3's code and HTTP status (some servers send no body, and the SDK then says only UnknownError), and what a 403 means. */
function readable(e: unknown): unknown {
  if (!(e instanceof S3ServiceException)) return e;
  const code = status(e);
  if (['SignatureDoesNotMatch', 'InvalidAccessKeyId'].includes(e.name)) return new Error(`the credentials were refused (HTTP ${code}, ${e.name}): check the access key and secret the AWS chain found (AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/credentials)`);
  if (code === 403) return new Error(`access denied (HTTP 403, ${e.name}): these credentials may not do this here (a pull needs read access, a push write access)`);
  const name = e.name === 'UnknownError' ? 'error' : e.name;
  return new Error(`${name} (HTTP ${code ?? '?'})${e.message && !['UnknownError', e.name].includes(e.message) ? `: ${e.message}` : ''}`);
}

/**
 * Signs a PUT with the body's known sha256 (SigV4's x-amz-content-sha256) instead of letting the SDK
 * hash the body again (~0.6 s a GiB here); the server checks the body against it, so an upload
 * damaged on the way is refused.
 */
function withPayloadHash(command: S3.PutObjectCommand, sha256: string | undefined): S3.PutObjectCommand {
  if (sha256) {
    command.middlewareStack.add(
      (next) => (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = sha256;
        return next(args);
      },
      { step: 'build', name: 'pipeKnownPayloadHash' },
    );
  }
  return command;
}

/**
 * An S3 bucket (AWS, Ceph RGW, MinIO, R2…) through the AWS SDK. Credentials and
 * region come from the SDK's usual chain (AWS_* variables, ~/.aws/config,
 * profiles, instance roles); pipe never sees or prints them.
 */
export class S3Backend implements Backend {
  private readonly client: S3.S3Client;

  constructor(
    readonly url: string,
    private readonly bucket: string,
    private readonly prefix: string,
    config: RemoteConfig,
  ) {
    // AWS_ENDPOINT_URL(_S3) is the SDK's own way to name a non-AWS store; such stores want path-style requests.
    const endpoint = config.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
    this.client = new S3Client({
      ...(config.region ? { region: config.region } : process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION ? {} : { region: 'us-east-1' }),
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      // pipe checks every object by its sha256; the SDK's extra CRC headers are not understood by every S3 server.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async list(prefix: string): Promise<Set<string>> {
    const keys = new Set<string>();
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token })).catch((e: unknown) => {
        throw readable(e);
      });
      for (const o of page.Contents ?? []) if (o.Key) keys.add(o.Key.slice(strip));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async read(key: string): Promise<Body | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { length: r.ContentLength, chunks: r.Body as Readable };
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw readable(e);
    }
  }

  async put(key: string, body: Uint8Array, opts: PutOptions = {}): Promise<boolean> {
    const params = { Bucket: this.bucket, Key: this.key(key), Body: body, ...(opts.ifAbsent ? { IfNoneMatch: '*' } : {}) };
    for (let attempt = 0; ; attempt++) {
      try {
        if (body.length >= MULTIPART_BYTES && !opts.ifAbsent) {
          await new Upload({ client: this.client, params, partSize: PART_BYTES, queueSize: 4, leavePartsOnError: false }).done();
        } else {
          await this.client.send(withPayloadHash(new PutObjectCommand(params), opts.sha256));
        }
        return true;
      } catch (e) {
        // 412: the key is taken. 409: another conditional write to it is in flight; once it lands, this one gets 412.
        if (status(e) === 412) return false;
        if (status(e) !== 409 || attempt >= 20) throw readable(e);
        await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
      }
    }
  }
}
