/**
 * The AWS SDK's Node version notice. On Node < 22, @aws-sdk/core prints an 8-line `NodeVersionSupportWarning` (through
 * process.emitWarning) the first time a client is used: on every command. `quietSdkNodeWarning` turns it off (the
 * SDK's own AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED, unless the user set it), before any client is made
 * (the CLI's entry, the Lambda module's init); `sdkNodeNote` is the one line said instead, at debug level.
 */

/** The Node major the AWS SDK requires from January 2027. */
export const SDK_NODE_MAJOR = 22;

const DISABLE = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** Turns the SDK's warning off, unless `env` already says what to do about it. */
export function quietSdkNodeWarning(env: NodeJS.ProcessEnv = process.env): void {
  env[DISABLE] ??= 'true';
}

/** The debug line on Node < 22 (undefined on Node 22 and later). */
export function sdkNodeNote(version: string = process.versions.node): string | undefined {
  const major = Number.parseInt(version, 10);
  return major < SDK_NODE_MAJOR ? `Node ${major}: the AWS SDK drops it in January 2027; move to Node ${SDK_NODE_MAJOR}` : undefined;
}
